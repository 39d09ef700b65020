"""projects: every token, dataset, job, model version and alias belongs to one; what a single-project
install had moves into the project ``default``; its admin tokens become server admins

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

DEFAULT = 'prj_default'
OWNED = ('tokens', 'datasets', 'jobs', 'model_versions', 'alias_history')


def _project() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column('project_id', sa.String(length=40), nullable=False, server_default=DEFAULT)


def upgrade() -> None:
    projects = op.create_table(
        'projects',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.execute(projects.insert().values(id=DEFAULT, name='default', created_at=sa.func.current_timestamp()))
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_project())
            batch.create_index(f'ix_{table}_project_id', ['project_id'])
    with op.batch_alter_table('tokens') as batch:
        batch.add_column(sa.Column('server_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('created_by', sa.String(length=40), nullable=True))
    op.execute("UPDATE tokens SET server_admin = (scope = 'admin')")
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_constraint('uq_model_versions', type_='unique')
        batch.create_unique_constraint('uq_model_versions', ['project_id', 'name', 'version'])
    # aliases: the project joins the primary key (a model name is a project's own)
    op.create_table(
        'aliases_new',
        sa.Column('project_id', sa.String(length=40), nullable=False, server_default=DEFAULT),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('alias', sa.String(length=100), nullable=False),
        sa.Column('version_id', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'name', 'alias'),
    )
    op.execute(f"INSERT INTO aliases_new (project_id, name, alias, version_id) "
               f"SELECT '{DEFAULT}', name, alias, version_id FROM aliases")
    op.drop_table('aliases')
    op.rename_table('aliases_new', 'aliases')


def downgrade() -> None:
    op.create_table(
        'aliases_old',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('alias', sa.String(length=100), nullable=False),
        sa.Column('version_id', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('name', 'alias'),
    )
    op.execute(f"INSERT INTO aliases_old (name, alias, version_id) SELECT name, alias, version_id "
               f"FROM aliases WHERE project_id = '{DEFAULT}'")
    op.drop_table('aliases')
    op.rename_table('aliases_old', 'aliases')
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_constraint('uq_model_versions', type_='unique')
        batch.create_unique_constraint('uq_model_versions', ['name', 'version'])
    with op.batch_alter_table('tokens') as batch:
        batch.drop_column('created_by')
        batch.drop_column('server_admin')
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_project_id')
            batch.drop_column('project_id')
    op.drop_table('projects')
