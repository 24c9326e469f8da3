"""The production-like stack on one machine: PostgreSQL, Redis, Keycloak, both services under gunicorn
and the delivery workers, each process on its own port with its log in one directory.

    .venv/bin/honcho run .venv/bin/python -m scripts.stack run    # what `make run-prod` does

Tests and benchmarks start, stop, kill, pause and restart the same processes one by one through
`Stack` (tests/faults/ does): `processes` runs one process, `postgres` makes and runs a cluster,
`stack` holds them all, `__main__` is the command line.
"""

from .postgres import PostgresCluster
from .processes import Process, StackError
from .stack import Stack, missing_programs

__all__ = ["PostgresCluster", "Process", "Stack", "StackError", "missing_programs"]
