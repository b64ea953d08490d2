"""SQL storage: SQLAlchemy 2 async rows, their mapping to the domain, and the unit of work.

SQLite (aiosqlite) is the embedded default and PostgreSQL (asyncpg) production; the schema
is the same on both and is created by the alembic migrations, never by `create_all`.
"""
