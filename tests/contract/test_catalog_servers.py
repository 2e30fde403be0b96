"""The catalog's clock and its registry of live processes (catalog/sql_servers.py), on every engine."""

from __future__ import annotations

import time

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Server


def record(server_id: str, interval: float = 10.0, role: str = "serve") -> Server:
    return Server(server_id, role, "host-a", 4242, "http://127.0.0.1:9000", "0.1.0", 0.0, 0.0, interval)  # type: ignore[arg-type]


def test_now_is_the_database_time(catalog: Catalog) -> None:
    # both test databases run on this machine: their clock is ours, to the measuring noise
    assert abs(catalog.now() - time.time()) < 5


def test_register_heartbeat_list_deregister(catalog: Catalog, other_catalog: Catalog) -> None:
    registered = catalog.register_server(record("a"))
    assert abs(registered - catalog.now()) < 5
    catalog.register_server(record("b", role="root-key rotate"))
    listed, now = other_catalog.list_servers()  # seen by another process
    assert [(s.server_id, s.role) for s in listed] == [("a", "serve"), ("b", "root-key rotate")]
    a = listed[0]
    assert (a.host, a.pid, a.address, a.version, a.interval) == ("host-a", 4242, "http://127.0.0.1:9000",
                                                                  "0.1.0", 10.0)
    # stamped by the database, not the record (clock_timestamp() moves within one statement)
    assert abs(a.started - registered) < 0.1 and a.heartbeat == registered
    assert a.alive(now) and not a.alive(now + 30)  # three intervals
    beat = other_catalog.heartbeat("a")
    assert beat is not None and beat >= registered
    assert catalog.heartbeat("nobody") is None
    catalog.deregister_server("a")
    assert [s.server_id for s in other_catalog.list_servers()[0]] == ["b"]


def test_a_process_dead_for_a_day_is_forgotten_at_the_next_registration(catalog: Catalog) -> None:
    catalog.register_server(record("old"))
    catalog._write_one("UPDATE servers SET heartbeat = heartbeat - 86401", ())  # type: ignore[attr-defined]
    catalog.register_server(record("new"))
    assert [s.server_id for s in catalog.list_servers()[0]] == ["new"]


def test_an_empty_registry_still_tells_the_time(catalog: Catalog) -> None:
    servers, now = catalog.list_servers()
    assert servers == [] and abs(now - time.time()) < 5
