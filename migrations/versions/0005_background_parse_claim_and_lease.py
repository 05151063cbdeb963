"""background parses: the claim and lease of a benchmark upload

A large upload is parsed by one worker at a time: ``claimed_by`` names it, ``lease_until``
says until when the claim holds (renewed with every progress report) and ``attempts`` counts
the claims. The scheduler of any process resumes a parse whose lease ran out.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.types


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('benchmark_uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('lease_until', app.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('benchmark_uploads', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
