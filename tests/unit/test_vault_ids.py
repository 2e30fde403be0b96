"""Version and upload ids: S3's shapes, unguessable, and usable on a command line."""

from __future__ import annotations

import re

from strongroom.s3 import version_ids
from strongroom.vault.core import new_upload_id, new_version_id


def test_ids_have_s3_shapes_and_never_start_like_an_option() -> None:
    # One in 64 URL-safe ids would start with "-", which the aws cli takes for an option
    # ("--upload-id -Ep..." fails: "expected one argument"); 4000 draws would see ~60 of them.
    versions = [new_version_id() for _ in range(2000)]
    uploads = [new_upload_id() for _ in range(2000)]
    for made in versions + uploads:
        assert not made.startswith("-"), made
        version_ids.check_shape(made)  # a completed upload's version id is its upload id
    assert {len(v) for v in versions} == {32} and {len(u) for u in uploads} == {64}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", made) for made in versions + uploads)
    assert len(set(versions)) == 2000 and len(set(uploads)) == 2000
    assert any("-" in made for made in versions + uploads)  # the alphabet is unchanged past the first
