"""A PostgreSQL cursor whose statements PostgreSQL prepares once per connection, for the hot path.

Django's psycopg cursors bind parameters in the client: the values become literals in the
text, so PostgreSQL parses and plans every statement afresh. A report's one statement spent
more time being planned (about 0.3 ms) than run (0.2 ms) in PostgreSQL's backend, on the
same cores as the hub. With parameters bound on the server, psycopg prepares a statement
once it has run `prepare_threshold` times on a connection (settings.py sets it: Django
leaves it off, for external poolers in transaction mode) and then sends only its values.
Django's own cursors stay as they are: a client-side cursor is never prepared.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper


def prepared_cursor() -> CursorWrapper:
    """A cursor binding parameters on the server, wrapped as Django wraps its own (query
    logging, execute wrappers). PostgreSQL only."""
    # Imported here: psycopg is loaded only by a hub on PostgreSQL (never by the SQLite one).
    import psycopg

    connection.ensure_connection()
    cursor: Any = psycopg.Cursor(connection.connection)  # the stubs say a wrapper goes in; the driver's cursor does
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
