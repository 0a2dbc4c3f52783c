"""Alembic migrations of the inspector's store (run by `Store.migrate`)."""
