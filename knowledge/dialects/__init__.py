"""What differs between SQLite and PostgreSQL, one module per concern; callers ask for their engine's version."""
