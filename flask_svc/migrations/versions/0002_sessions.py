"""Sessions and email verification: users.email_verified and users.last_login,
refresh_tokens.user_agent and refresh_tokens.ip.

Plain ADD COLUMNs (SQLite has them): a batch copy of `users` would drop its
AUTOINCREMENT, and ids must never be reused.

Revision ID: 0002_sessions
Revises: 0001_initial
Create Date: 2026-12-07 23:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_sessions'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'users',
        sa.Column('email_verified', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column('users', sa.Column('last_login', sa.DateTime(timezone=True), nullable=True))
    op.add_column('refresh_tokens', sa.Column('user_agent', sa.String(length=255), nullable=True))
    op.add_column('refresh_tokens', sa.Column('ip', sa.String(length=45), nullable=True))


def downgrade():
    op.drop_column('refresh_tokens', 'ip')
    op.drop_column('refresh_tokens', 'user_agent')
    op.drop_column('users', 'last_login')
    op.drop_column('users', 'email_verified')
