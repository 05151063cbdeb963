"""WSGI entry point: ``gunicorn -w 1 --threads 400 wsgi:app`` (see README)."""

from app import create_app

app = create_app()
