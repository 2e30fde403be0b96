"""Blob records and leases (catalog/sql_garbage.py), on every engine: the commits that reference,
replace or drop blobs keep the records in their own transaction, ages are the database's, and a lease
is held by one holder at a time."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from strongroom.catalog.api import BlobExpired, Catalog
from strongroom.catalog.model import Part
from tests.contract.test_catalog import make_bucket, piece, upload, version


def raw(catalog: Catalog) -> Any:
    """The catalog under the conftest's Writer (which records pending blobs before each write)."""
    return catalog._catalog  # type: ignore[attr-defined]


def records(catalog: Catalog, state: str) -> set[str]:
    return set(catalog.expired_blobs(state, -60.0, 1000))  # type: ignore[arg-type]  # every record, any age


def test_a_commit_takes_its_blob_out_of_pending_and_records_what_it_replaced(catalog: Catalog) -> None:
    make_bucket(catalog)
    v1, v2 = version("bkt", "k", "one"), version("bkt", "k", "two")
    catalog.put_object(v1)
    assert records(catalog, "pending") == set() and records(catalog, "garbage") == set()
    catalog.put_object(v2)
    assert records(catalog, "garbage") == {v1.pieces[0].blob_id}
    catalog.delete_object("bkt", "k")
    assert records(catalog, "garbage") == {v1.pieces[0].blob_id, v2.pieces[0].blob_id}
    assert records(catalog, "pending") == set()
    inline = version("bkt", "small", "tiny", pieces=(piece(1, "tiny", inline=b"ciphertext"),))
    catalog.put_object(inline)
    catalog.delete_object("bkt", "small")  # no blob: nothing recorded
    assert len(records(catalog, "garbage")) == 2


def test_a_commit_whose_pending_record_is_gone_fails_and_changes_nothing(catalog: Catalog) -> None:
    make_bucket(catalog)
    old = version("bkt", "k", "old")
    catalog.put_object(old)
    late = version("bkt", "k", "late")
    with pytest.raises(BlobExpired):
        raw(catalog).put_object(late)  # never recorded pending (or swept as a dead write's)
    assert catalog.get_object("bkt", "k") == old
    assert records(catalog, "garbage") == set()
    catalog.record_pending(late.pieces[0].blob_id)
    catalog.forget_pending([late.pieces[0].blob_id])  # a failed write deleted its blob
    with pytest.raises(BlobExpired):
        raw(catalog).put_object(late)


def test_parts_replaced_unused_and_aborted_become_garbage(catalog: Catalog) -> None:
    make_bucket(catalog)
    catalog.create_upload(upload("bkt", "mp", "u1"))
    first, second, unused = piece(1, "a"), piece(1, "b"), piece(2, "c")
    catalog.put_part(Part("u1", first, 1.0))
    catalog.put_part(Part("u1", second, 2.0))  # replaces part 1
    catalog.put_part(Part("u1", unused, 3.0))
    assert records(catalog, "garbage") == {first.blob_id}
    done = version("bkt", "mp", "mp", version_id="u1", pieces=(second,))
    catalog.complete_upload("u1", done)
    assert records(catalog, "garbage") == {first.blob_id, unused.blob_id}
    catalog.create_upload(upload("bkt", "ab", "u2"))
    dropped = piece(1, "d")
    catalog.put_part(Part("u2", dropped, 1.0))
    catalog.abort_upload("u2")
    catalog.create_upload(upload("bkt", "gone", "u3"))
    with_bucket = piece(1, "e")
    catalog.put_part(Part("u3", with_bucket, 1.0))
    catalog.delete_object("bkt", "mp")
    catalog.delete_bucket("bkt")  # its uploads go with it
    assert records(catalog, "garbage") == {first.blob_id, unused.blob_id, second.blob_id, dropped.blob_id,
                                           with_bucket.blob_id}
    assert records(catalog, "pending") == set()


def test_a_part_re_keyed_in_place_keeps_its_blob(catalog: Catalog) -> None:
    """Root key rotation stores a part again with the same blob: neither new nor garbage."""
    make_bucket(catalog)
    catalog.create_upload(upload("bkt", "mp", "u1"))
    p = piece(1, "a")
    catalog.put_part(Part("u1", p, 1.0))
    raw(catalog).put_part(Part("u1", dataclasses.replace(p, sealed_key=b"re-sealed"), 2.0))
    assert records(catalog, "garbage") == set()


def test_ages_are_the_database_s_and_records_are_forgotten_by_state(catalog: Catalog) -> None:
    assert abs(catalog.catalog_time() - time.time()) < 60  # the test machine's clock is the database's
    catalog.record_pending("a" * 32)
    assert catalog.expired_blobs("pending", 60.0, 10) == []  # younger than the grace
    time.sleep(0.05)
    assert catalog.expired_blobs("pending", 0.01, 10) == ["a" * 32]
    assert catalog.forget_blobs("garbage", ["a" * 32]) == 0  # another state: kept
    assert "a" * 32 in set(catalog.known_blob_ids())
    assert catalog.forget_blobs("pending", ["a" * 32]) == 1
    assert catalog.expired_blobs("pending", 0.0, 10) == []


def test_one_lease_holder_until_it_expires_or_releases(catalog: Catalog, other_catalog: Catalog) -> None:
    assert catalog.take_lease("job", "me", 30.0)
    assert catalog.take_lease("job", "me", 30.0)  # already mine: renewed
    assert not other_catalog.take_lease("job", "you", 30.0)
    assert catalog.renew_lease("job", "me", 0.05)
    assert not other_catalog.renew_lease("job", "you", 30.0)
    time.sleep(0.1)
    assert not catalog.renew_lease("job", "me", 30.0)  # expired: not renewed
    assert other_catalog.take_lease("job", "you", 30.0)  # expired: taken
    assert not catalog.take_lease("job", "me", 30.0)
    other_catalog.release_lease("job", "me")  # not the holder: nothing happens
    assert not catalog.take_lease("job", "me", 30.0)
    other_catalog.release_lease("job", "you")
    assert catalog.take_lease("job", "me", 30.0)
    assert other_catalog.take_lease("other-job", "you", 30.0)  # leases are independent
