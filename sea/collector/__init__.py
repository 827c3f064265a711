"""The collector: receives node segments over HTTP, stores every window exactly once in one
database (SQLite embedded, PostgreSQL for a city), answers queries and serves the dashboard.

Modules: `schema` (tables), `db` (engine, migrations), `segment` (parsing and checking an
upload), `store` (idempotent writes and queries), `auth` (node tokens), `search` (nearest
neighbours over embeddings), `app` (the HTTP application).
"""
