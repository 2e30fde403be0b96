"""The PostgreSQL-mode servers: started when a row needs them, stopped when another row needs others.

A cluster (servers.Cluster: one or three strongrooms on one fresh schema) runs only while its
rows do, and one at a time: every strongroom process holds PostgreSQL connections of its own,
and the database's `max_connections` is shared with whatever else uses it. Each cluster has
its own client, spreading requests over its servers.
"""

from __future__ import annotations

from pathlib import Path

import bench.servers as srv
from bench.client import S3Client
from bench.plan import Profile
from bench.workloads import BUCKET, Side


class Clusters:
    """`await side(key)`, key "strongroom-pg3" or "strongroom-base-pg1": its cluster, started if need be."""

    def __init__(self, work: Path, profile: Profile, extra_args: tuple[str, ...],
                 baseline_src: Path | None) -> None:
        self.work, self.profile, self.extra_args, self.baseline_src = work, profile, extra_args, baseline_src
        self.current: Side | None = None
        self._key = ""
        self.failed: dict[str, str] = {}  # key -> why it could not start
        self._starts = 0  # each start: a data directory of its own (its deployment id binds it to its schema)

    async def side(self, key: str) -> Side | None:
        if key == self._key and self.current is not None:
            return self.current
        await self.close()
        if key in self.failed:
            return None
        name, _, catalog = key.rpartition("-")
        src = self.baseline_src if name.endswith("-base") else None
        self._starts += 1
        try:
            cluster = srv.start_cluster(self.work, f"{key}-{self._starts}", int(catalog.removeprefix("pg")),
                                        self.extra_args, src)
        except RuntimeError as e:
            self.failed[key] = f"not started: {e}"
            return None
        client = S3Client(cluster.endpoint, cluster.access_key, cluster.secret_key, spread=cluster.endpoints)
        await client.__aenter__()
        try:
            await client.create_bucket(BUCKET)
        except BaseException:
            await client.__aexit__(None, None, None)
            cluster.stop()
            raise
        self.current, self._key = Side("strongroom", cluster, client, self.profile), key
        return self.current

    async def close(self) -> None:
        if self.current is not None:
            await self.current.client.__aexit__(None, None, None)
            self.current.server.stop()
            self.current, self._key = None, ""
