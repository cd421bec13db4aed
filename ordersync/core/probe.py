"""Exit 0 when the PostgreSQL and Redis given on the command line accept connections.

`make test` uses it to decide whether to run the PostgreSQL + Redis half of the suite.
"""

import socket
import sys
from urllib.parse import urlsplit


def reachable(url: str, default_port: int) -> bool:
    """Return whether a TCP connection to the URL's host and port succeeds."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    database_url, redis_url = sys.argv[1], sys.argv[2]
    ok = reachable(database_url, 5432) and reachable(redis_url, 6379)
    sys.exit(0 if ok else 1)
