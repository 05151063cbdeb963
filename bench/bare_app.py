"""The bare stack for comparison: Flask + Jinja rendering a page of similar size, no database,
no extensions. Served by the same gunicorn settings as the app."""

from flask import Flask, render_template_string

app = Flask(__name__)
PAGE = "<!doctype html><title>bare</title><ul>{% for i in range(200) %}<li>row {{ i }}</li>{% endfor %}</ul>"


@app.get("/healthz")
def health():
    return {"status": "ok"}


@app.get("/page")
def page():
    return render_template_string(PAGE)


@app.get("/hello")
def hello():
    """Flask's "hello" route: the ceiling for any page of the same server (bench/pages.py)."""
    return "Hello, World!"
