"""Users and their access keys: created, listed, removed; secrets sealed under the root key.

Used by the `strongroom user` commands and at server start (the root user).
The catalog stores only sealed secrets; a secret is shown once, when made.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field

from strongroom.catalog.api import Catalog, CatalogConflict
from strongroom.catalog.model import AccessKey, User
from strongroom.config import new_access_key_pair
from strongroom.vault import RootKeyring

log = logging.getLogger("strongroom.identity")

ROOT_NAME = "root"
_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")  # IAM user name characters
_ACCESS_KEY = re.compile(r"[A-Za-z0-9]{3,128}")


class IdentityError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class NewKey:
    user: User
    access_key: str
    secret_key: str = field(repr=False)


def new_user_id() -> str:
    return secrets.token_hex(32)


def user_arn(account_id: str, user: User) -> str:
    return (
        f"arn:aws:iam::{account_id}:root" if user.is_root else f"arn:aws:iam::{account_id}:user/{user.name}"
    )


def unique_id(user: User) -> str:
    """The user's IAM unique ID ("AIDA" and 17 characters, as IAM's user ids look: IAM user guide,
    "Unique identifiers"), also STS GetCallerIdentity's UserId; a user re-created under an old name has
    another one."""
    return "AIDA" + user.user_id[:17].upper()


def ensure_root(catalog: Catalog, keyring: RootKeyring, access_key: str, secret_key: str) -> User:
    """Make sure the root user exists and that exactly the configured root key pair signs in as root.

    Any other access key of the root user (one configured before STRONGROOM_ROOT_ACCESS_KEY changed) is
    disabled, not deleted: `strongroom user list` still shows it, `strongroom user delete-key` removes
    it. Each change is logged at INFO with the key id, never a secret.
    """
    root = catalog.get_user(ROOT_NAME)
    if root is None:
        root = User(ROOT_NAME, new_user_id(), time.time(), is_root=True)
        key = AccessKey(access_key, ROOT_NAME, keyring.seal_secret(secret_key, access_key), time.time())
        try:
            catalog.add_user(root, key)
        except CatalogConflict:  # another process created it first
            root = catalog.get_user(ROOT_NAME)
            assert root is not None
    found = catalog.lookup_access_key(access_key)
    if found is None:
        catalog.add_access_key(
            AccessKey(access_key, ROOT_NAME, keyring.seal_secret(secret_key, access_key), time.time())
        )
    elif found[1].name != ROOT_NAME:
        raise IdentityError(f"the root access key {access_key} belongs to user {found[1].name}")
    else:
        try:
            current = keyring.unseal_secret(found[0].sealed_secret, access_key)
        except Exception:
            current = None
        if current != secret_key:  # the configured secret changed, or the root key was rotated
            catalog.remove_access_key(access_key)
            catalog.add_access_key(
                AccessKey(access_key, ROOT_NAME, keyring.seal_secret(secret_key, access_key), time.time())
            )
        elif not found[0].active and catalog.set_access_key_active(access_key, True):
            log.info("root access key %s is the configured one: enabled it again", access_key)
    for key in catalog.list_access_keys(ROOT_NAME):
        if key.access_key == access_key or not key.active:
            continue
        if catalog.set_access_key_active(key.access_key, False):
            log.info("disabled root access key %s: the configured root access key is now %s "
                     "(`strongroom user delete-key %s` removes it)",
                     key.access_key, access_key, key.access_key)
    return root


def add_user(
    catalog: Catalog,
    keyring: RootKeyring,
    name: str,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> NewKey:
    if not _NAME.fullmatch(name) or name == ROOT_NAME:
        raise IdentityError(f"invalid user name {name!r}: 1-64 of letters, digits and +=,.@_-, not 'root'")
    ak, sk = new_access_key_pair()
    ak, sk = access_key or ak, secret_key or sk
    if not _ACCESS_KEY.fullmatch(ak):
        raise IdentityError("an access key is 3-128 letters and digits")
    if len(sk) < 8:
        raise IdentityError("a secret key is at least 8 characters")
    user = User(name, new_user_id(), time.time())
    try:
        catalog.add_user(user, AccessKey(ak, name, keyring.seal_secret(sk, ak), time.time()))
    except CatalogConflict:
        raise IdentityError(f"user {name} or access key {ak} exists already") from None
    return NewKey(user, ak, sk)


def add_key(catalog: Catalog, keyring: RootKeyring, name: str) -> NewKey:
    user = catalog.get_user(name)
    if user is None:
        raise IdentityError(f"no user {name}")
    if user.is_root:  # the server would disable it at its next start (ensure_root)
        raise IdentityError("the root user has one access key, STRONGROOM_ROOT_ACCESS_KEY (or the one in "
                            "<data-dir>/config.json): change it there and restart the server")
    ak, sk = new_access_key_pair()
    catalog.add_access_key(AccessKey(ak, name, keyring.seal_secret(sk, ak), time.time()))
    return NewKey(user, ak, sk)


def remove_user(catalog: Catalog, name: str) -> None:
    if name == ROOT_NAME:
        raise IdentityError("the root user cannot be removed")
    if not catalog.remove_user(name):
        raise IdentityError(f"no user {name}")
