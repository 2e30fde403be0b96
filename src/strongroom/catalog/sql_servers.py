"""The database's clock and the registry of live processes (table servers), for both engines.

Every time here is the database's: `now()` is PostgreSQL's clock_timestamp() (SQLite: the local
clock, the file is local), and a registration and each heartbeat are stamped by the database in the
statement itself, so that processes on machines whose clocks disagree are compared on one clock.
What registers, when and why is servers.py's business; this is only the storage.
"""

from __future__ import annotations

from strongroom.catalog.model import Server
from strongroom.catalog.sql_base import SqlBase

FORGET_AFTER = 86400.0  # a process dead this long (seconds) is dropped from the registry


class SqlServers(SqlBase):
    def now(self) -> float:
        """The database's time, epoch seconds."""
        (now,) = self._conn().execute(self._sql.now).fetchone()
        return float(now)

    def register_server(self, server: Server) -> float:
        """Add `server` (its `started` and `heartbeat` are the database's time, not the record's);
        forget processes dead for a day. Returns the database's time of the registration."""
        with self._write() as conn:
            conn.execute(self._sql.forget_servers, (FORGET_AFTER,))
            (now,) = conn.execute(self._sql.register_server, (
                server.server_id, server.role, server.host, server.pid, server.address, server.version,
                server.interval)).fetchone()
        return float(now)

    def heartbeat(self, server_id: str) -> float | None:
        """Stamp the process's heartbeat with the database's time, and return it; None if the process is
        not registered (any more)."""
        with self._write() as conn:
            row = conn.execute(self._sql.heartbeat, (server_id,)).fetchone()
        return None if row is None else float(row[0])

    def deregister_server(self, server_id: str) -> None:
        self._write_one(self._sql.deregister_server, (server_id,))

    def list_servers(self) -> tuple[list[Server], float]:
        """Every registered process (alive or not: `Server.alive`), by start, and the database's time."""
        rows = self._conn().execute(self._sql.list_servers).fetchall()
        servers = [Server(r[0], r[1], r[2], int(r[3]), r[4], r[5], float(r[6]), float(r[7]), float(r[8]))
                   for r in rows]
        return servers, (float(rows[0][9]) if rows else self.now())
