"""The built-in KMS: symmetric keys, their state machine, rotation, aliases, and the cryptographic operations.

Blocking (SQLite and AES); callers run it on an executor. Every operation reads
the key's state from the store, so a key disabled or scheduled for deletion by any
process stops working at once. Keys pending deletion whose window has passed are
deleted when touched and by `sweep`, material included; from then on they are
NotFoundException. A window's "day" is `day_seconds` long (tests shorten it).

`protects(arn)` says whether a key seals object versions under S3 Object Lock (the catalog answers:
catalog.kms_key_protects). Such a key can be neither disabled nor scheduled for deletion, and one whose
deletion window passes while it protects is kept (pending deletion) until it no longer does: otherwise
crypto-shredding would destroy what a retention or legal hold promises to keep.
Dates are read from `clock`: in a server, the catalog's time (clock.py), and a deletion
also needs the database's own clock to agree (kms/store_sql.py), so that a process whose
clock runs ahead cannot cut a window short for everyone.

`principal` is the ARN of the user calling through the KMS API, or None for the
S3 side: AWS managed keys (alias/aws/s3) can be used only through S3, and nobody
may manage them, as on AWS.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping

from strongroom.kms import errors, key_policy
from strongroom.kms.ciphertext import BadCiphertext, read_header
from strongroom.kms.ciphertext import decrypt as open_blob
from strongroom.kms.ciphertext import encrypt as seal_blob
from strongroom.kms.model import (
    AWS_S3_ALIAS,
    AWS_S3_DESCRIPTION,
    DISABLED,
    ENABLED,
    PENDING_DELETION,
    RESERVED_ALIAS_PREFIX,
    Alias,
    KmsKey,
    SealedMaterial,
    alias_arn,
    key_arn,
    parse_ref,
)
from strongroom.kms.sealing import KmsKeyring
from strongroom.kms.store import AliasConflict, KmsStore

log = logging.getLogger("strongroom.kms")

DEFAULT_ROTATION_DAYS = 365
_ALIAS_PATTERN = re.compile(r"[a-zA-Z0-9:/_-]+")
_MATERIALS_KEPT = 4096  # versions of key material kept unsealed in memory, at most (32 bytes each)


class BuiltinKms:
    def __init__(self, store: KmsStore, keyring: KmsKeyring, account_id: str, region: str,
                 day_seconds: float = 86400.0, clock: Callable[[], float] = time.time,
                 protects: Callable[[str], bool] = lambda arn: False) -> None:
        self.store, self.keyring = store, keyring
        self.account_id, self.region = account_id, region
        self.day_seconds, self.clock = day_seconds, clock
        self.protects = protects
        self._materials: dict[tuple[str, int], bytes] = {}  # (key id, version) -> material (_material)

    def arn(self, key_id: str) -> str:
        return key_arn(self.region, self.account_id, key_id)

    def alias_arn(self, alias: str) -> str:
        return alias_arn(self.region, self.account_id, alias)

    # --- finding keys ------------------------------------------------------------------------------

    def _load(self, key_id: str, shown: str) -> KmsKey:
        key = self.store.get_key(key_id)
        if key is not None and key.state == PENDING_DELETION and (key.deletion_date or 0) <= self.clock() \
                and not self._kept(key):
            self.store.delete_expired(self.clock(), key_id)
            key = self.store.get_key(key_id)  # gone, unless the database's own clock says not yet
        if key is None:
            raise errors.key_not_found(shown)
        return key

    def resolve(self, raw: str) -> KmsKey:
        """The key a KeyId parameter names (key id, key ARN, alias name or alias ARN), in any state."""
        ref = parse_ref(raw)
        if ref is None:
            raise errors.invalid_key_id(raw)
        if ref.region is not None and ref.region != self.region:
            raise errors.invalid_arn_region(ref.region)
        if ref.alias is not None:
            if ref.account is not None and ref.account != self.account_id:
                raise errors.alias_not_found(raw)
            alias = self.store.get_alias(ref.alias)
            if alias is None:
                if ref.alias == AWS_S3_ALIAS:  # AWS managed keys come into being when first named
                    return self.aws_managed_key()
                raise errors.alias_not_found(self.alias_arn(ref.alias))
            return self._load(alias.key_id, self.arn(alias.key_id))
        assert ref.key_id is not None
        if ref.account is not None and ref.account != self.account_id:
            raise errors.key_not_found(raw)
        return self._load(ref.key_id, raw if ref.kind == "key-arn" else self.arn(ref.key_id))

    def aws_managed_key(self) -> KmsKey:
        """The aws/s3 key, created on first use (by whichever process gets there first)."""
        alias = self.store.get_alias(AWS_S3_ALIAS)
        if alias is None:
            now = self.clock()
            key = KmsKey(str(uuid.uuid4()), now, AWS_S3_DESCRIPTION, manager="AWS", rotation_enabled=True,
                         rotation_period_days=DEFAULT_ROTATION_DAYS,
                         next_rotation=now + DEFAULT_ROTATION_DAYS * self.day_seconds)
            material, _ = self.keyring.new_material(key.key_id, 1)
            key_id = self.store.create_managed_key(AWS_S3_ALIAS, key, material)
            if key_id == key.key_id:
                log.info("created the AWS managed key %s (%s)", key_id, AWS_S3_ALIAS)
        else:
            key_id = alias.key_id
        return self._load(key_id, self.arn(key_id))

    def _usable(self, key: KmsKey) -> None:
        if key.state == DISABLED:
            raise errors.disabled(self.arn(key.key_id))
        if key.state == PENDING_DELETION:
            raise errors.pending_deletion(self.arn(key.key_id))

    def _not_managed(self, key: KmsKey, action: str, principal: str | None) -> None:
        """AWS managed keys: their key policy lets only S3 use them and nobody manage them."""
        if key.manager == "AWS":
            raise errors.access_denied(principal or "arn:aws:iam::" + self.account_id + ":root", action,
                                       self.arn(key.key_id), "resource-based")

    def _use(self, raw: str, action: str, principal: str | None) -> KmsKey:
        key = self.resolve(raw)
        if principal is not None:
            self._not_managed(key, action, principal)
        self._usable(key)
        if key.rotation_enabled and key.next_rotation is not None and key.next_rotation <= self.clock():
            key = self._rotate(key.key_id, automatic=True)
        return key

    def _material(self, key_id: str, version: int) -> bytes:
        """A version of a key's material, unsealed. A version never changes once made (rotation adds one;
        a root-key rotation re-seals it, same bytes), so it is kept once read: an SSE-KMS GET on PostgreSQL
        saves a round trip. Nothing is used without the key's record first (`_load`, `_use`): a deleted or
        disabled key is refused before its kept material could serve."""
        found = self._materials.get((key_id, version))
        if found is not None:
            return found
        record = self.store.get_material(key_id, version)
        if record is None:
            raise errors.invalid_ciphertext()  # a blob naming a version that never existed: forged
        material = self.keyring.unseal(record)
        if len(self._materials) >= _MATERIALS_KEPT:
            self._materials.clear()  # (atomic: other threads read it meanwhile)
        self._materials[(key_id, version)] = material
        return material

    # --- key lifecycle -----------------------------------------------------------------------------

    def create_key(self, description: str = "", tags: Mapping[str, str] | None = None,
                   policy: str | None = None) -> KmsKey:
        """A new key; without a policy it has AWS's default key policy."""
        key = KmsKey(str(uuid.uuid4()), self.clock(), description, tags=tuple(sorted((tags or {}).items())))
        material, _ = self.keyring.new_material(key.key_id, 1)
        self.store.create_key(key, material, policy)
        log.info("created KMS key %s", key.key_id)
        return key

    def _change(self, raw: str, action: str, principal: str | None,
                fn: Callable[[KmsKey], tuple[KmsKey, SealedMaterial | None]]) -> KmsKey:
        key = self.resolve(raw)
        self._not_managed(key, action, principal)
        updated = self.store.update_key(key.key_id, fn)
        if updated is None:
            raise errors.key_not_found(self.arn(key.key_id))
        return updated

    def _not_pending(self, key: KmsKey) -> None:
        if key.state == PENDING_DELETION:
            raise errors.pending_deletion(self.arn(key.key_id))

    def enable(self, raw: str, principal: str | None = None) -> KmsKey:
        def fn(key: KmsKey) -> tuple[KmsKey, None]:
            self._not_pending(key)
            return key.with_(state=ENABLED), None
        return self._change(raw, "EnableKey", principal, fn)

    def _not_protecting(self, key: KmsKey) -> None:
        if self.protects(self.arn(key.key_id)):
            raise errors.protects_locked_objects(self.arn(key.key_id))

    def _kept(self, key: KmsKey) -> bool:
        """A key whose deletion window has passed is kept while it protects locked versions (a retention
        placed on a version it seals after its deletion was scheduled)."""
        if not self.protects(self.arn(key.key_id)):
            return False
        log.warning("KMS key %s is past its deletion window but is kept: it seals object versions under "
                    "Object Lock", key.key_id)
        return True

    def disable(self, raw: str, principal: str | None = None) -> KmsKey:
        def fn(key: KmsKey) -> tuple[KmsKey, None]:
            self._not_pending(key)
            self._not_protecting(key)
            return key.with_(state=DISABLED), None
        return self._change(raw, "DisableKey", principal, fn)

    def schedule_deletion(self, raw: str, days: int, principal: str | None = None) -> KmsKey:
        def fn(key: KmsKey) -> tuple[KmsKey, None]:
            self._not_pending(key)
            self._not_protecting(key)
            when = self.clock() + days * self.day_seconds
            return key.with_(state=PENDING_DELETION, deletion_date=when, pending_window_days=days), None
        key = self._change(raw, "ScheduleKeyDeletion", principal, fn)
        log.info("KMS key %s scheduled for deletion in %d day(s)", key.key_id, days)
        return key

    def cancel_deletion(self, raw: str, principal: str | None = None) -> KmsKey:
        def fn(key: KmsKey) -> tuple[KmsKey, None]:
            if key.state != PENDING_DELETION:
                raise errors.not_pending_deletion(self.arn(key.key_id))
            # As on AWS: a key whose deletion is cancelled comes back disabled.
            return key.with_(state=DISABLED, deletion_date=None, pending_window_days=None), None
        return self._change(raw, "CancelKeyDeletion", principal, fn)

    def set_rotation(self, raw: str, enabled: bool, period_days: int | None = None,
                     principal: str | None = None) -> KmsKey:
        period = period_days or DEFAULT_ROTATION_DAYS

        def fn(key: KmsKey) -> tuple[KmsKey, None]:
            self._usable(key)
            if not enabled:
                return key.with_(rotation_enabled=False, rotation_period_days=None, next_rotation=None), None
            return key.with_(rotation_enabled=True, rotation_period_days=period,
                             next_rotation=self.clock() + period * self.day_seconds), None
        return self._change(raw, "EnableKeyRotation" if enabled else "DisableKeyRotation", principal, fn)

    def rotate_on_demand(self, raw: str, principal: str | None = None) -> KmsKey:
        key = self.resolve(raw)
        self._not_managed(key, "RotateKeyOnDemand", principal)
        return self._rotate(key.key_id, automatic=False)

    def _rotate(self, key_id: str, automatic: bool) -> KmsKey:
        """A new material version: new ciphertexts use it, older versions still decrypt what they made."""
        def fn(key: KmsKey) -> tuple[KmsKey, SealedMaterial | None]:
            now = self.clock()
            if automatic and (key.next_rotation is None or key.next_rotation > now):
                return key, None  # another process rotated it first
            self._usable(key)
            material, _ = self.keyring.new_material(key.key_id, key.current_version + 1)
            next_rotation = key.next_rotation
            if key.rotation_enabled and key.rotation_period_days:
                next_rotation = now + key.rotation_period_days * self.day_seconds
            return key.with_(current_version=key.current_version + 1, next_rotation=next_rotation), material
        updated = self.store.update_key(key_id, fn)
        if updated is None:
            raise errors.key_not_found(self.arn(key_id))
        log.info("rotated KMS key %s to material version %d", key_id, updated.current_version)
        return updated

    def list_keys(self, limit: int, marker: str | None) -> tuple[list[KmsKey], str | None]:
        self.sweep()
        keys = self.store.list_keys(after=marker or "", limit=limit + 1)
        return keys[:limit], (keys[limit - 1].key_id if len(keys) > limit else None)

    def sweep(self) -> list[str]:
        now = self.clock()
        expired = [k for k in self.store.list_keys(limit=1_000_000)
                   if k.state == PENDING_DELETION and (k.deletion_date or 0) <= now]
        gone = [kid for k in expired if not self._kept(k) for kid in self.store.delete_expired(now, k.key_id)]
        for key_id in gone:
            log.info("deleted KMS key %s and its key material: its deletion window has passed", key_id)
        return gone

    # --- key policies -----------------------------------------------------------------------------

    def key_policy(self, key_id: str) -> str | None:
        """The policy of a key (its own, else AWS's default, or the aws/s3 policy for the AWS managed
        key); None when there is no such key."""
        key = self.store.get_key(key_id)
        if key is None:
            return None
        if key.manager == "AWS":
            return key_policy.aws_s3_policy(self.account_id, self.region)
        stored = self.store.get_key_policy(key_id)
        return stored if stored is not None else key_policy.default_policy(self.account_id)

    def put_key_policy(self, raw: str, policy: str, principal: str | None = None) -> KmsKey:
        key = self.resolve(raw)
        self._not_managed(key, "PutKeyPolicy", principal)  # as its policy says: nobody may change it
        if not self.store.put_key_policy(key.key_id, policy, self.clock()):
            raise errors.key_not_found(self.arn(key.key_id))
        log.info("KMS key %s has a new key policy", key.key_id)
        return key

    # --- aliases -----------------------------------------------------------------------------------

    def _alias_name(self, name: str) -> None:
        if not name.startswith("alias/"):
            raise errors.validation(errors.ALIAS_PREFIX_HELP)
        if len(name) > 256 or not _ALIAS_PATTERN.fullmatch(name):
            raise errors.constraint(name, "aliasName",
                                    "must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
        if ":" in name or name == "alias/":
            raise errors.validation(f"{name} contains invalid characters for an alias")
        if name.startswith(RESERVED_ALIAS_PREFIX):
            raise errors.not_authorized()

    def _alias_target(self, raw: str, action: str, principal: str | None) -> KmsKey:
        ref = parse_ref(raw)
        if ref is not None and ref.alias is not None:
            raise errors.validation("Aliases must refer to keys. Not aliases")
        key = self.resolve(raw)
        self._not_managed(key, action, principal)
        self._not_pending(key)
        return key

    def create_alias(self, name: str, target: str, principal: str | None = None) -> Alias:
        self._alias_name(name)
        if self.store.get_alias(name) is not None:
            raise errors.alias_exists(self.alias_arn(name))
        key = self._alias_target(target, "CreateAlias", principal)
        now = self.clock()
        alias = Alias(name, key.key_id, now, now)
        try:
            self.store.create_alias(alias)
        except AliasConflict:
            raise errors.alias_exists(self.alias_arn(name)) from None
        return alias

    def update_alias(self, name: str, target: str, principal: str | None = None) -> None:
        self._alias_name(name)
        if self.store.get_alias(name) is None:
            raise errors.alias_not_found(self.alias_arn(name))
        key = self._alias_target(target, "UpdateAlias", principal)
        if not self.store.update_alias(name, key.key_id, self.clock()):
            raise errors.alias_not_found(self.alias_arn(name))

    def delete_alias(self, name: str) -> None:
        self._alias_name(name)
        if not self.store.delete_alias(name):
            raise errors.alias_not_found(self.alias_arn(name))

    def list_aliases(self, key: str | None, limit: int, marker: str | None) -> tuple[list[Alias], str | None]:
        self.sweep()
        key_id = self.resolve(key).key_id if key is not None else None
        aliases = self.store.list_aliases(key_id, after=marker or "", limit=limit + 1)
        return aliases[:limit], (aliases[limit - 1].name if len(aliases) > limit else None)

    # --- cryptographic operations ------------------------------------------------------------------

    def encrypt(self, raw: str, plaintext: bytes, context: Mapping[str, str],
                principal: str | None = None) -> tuple[bytes, KmsKey]:
        key = self._use(raw, "Encrypt", principal)
        material = self._material(key.key_id, key.current_version)
        return seal_blob(material, key.key_id, key.current_version, plaintext, context), key

    def generate_data_key(self, raw: str | None, size: int, context: Mapping[str, str],
                          principal: str | None = None) -> tuple[bytes, bytes, KmsKey]:
        """(plaintext data key, ciphertext blob, key). raw None: the aws/s3 key (for S3 only)."""
        if raw is None:
            key = self.aws_managed_key()
            self._usable(key)
            if key.next_rotation is not None and key.next_rotation <= self.clock():
                key = self._rotate(key.key_id, automatic=True)
        else:
            key = self._use(raw, "GenerateDataKey", principal)
        data_key = os.urandom(size)
        material = self._material(key.key_id, key.current_version)
        return data_key, seal_blob(material, key.key_id, key.current_version, data_key, context), key

    def decrypt(self, blob: bytes, context: Mapping[str, str], raw: str | None = None,
                principal: str | None = None) -> tuple[bytes, KmsKey, int]:
        """(plaintext, key, material version). `raw`, when given, must name the key the blob names."""
        try:
            header = read_header(blob)
        except BadCiphertext:
            raise errors.invalid_ciphertext() from None
        requested = self.resolve(raw) if raw is not None else None
        key = self._load(header.key_id, self.arn(header.key_id))
        if requested is not None and requested.key_id != key.key_id:
            raise errors.incorrect_key()
        if principal is not None:
            self._not_managed(key, "Decrypt", principal)
        self._usable(key)
        try:
            plaintext = open_blob(self._material(key.key_id, header.version), blob, context)
        except BadCiphertext:
            raise errors.invalid_ciphertext() from None
        return plaintext, key, header.version

    def re_encrypt(self, blob: bytes, source_context: Mapping[str, str], source: str | None, destination: str,
                   destination_context: Mapping[str, str], principal: str | None = None
                   ) -> tuple[bytes, KmsKey, KmsKey]:
        plaintext, source_key, _ = self.decrypt(blob, source_context, source, principal)
        new_blob, dest_key = self.encrypt(destination, plaintext, destination_context, principal)
        return new_blob, source_key, dest_key

    def check_usable(self, arn: str) -> KmsKey:
        """For a cached data key about to be reused: the key must still exist and be enabled."""
        key = self.resolve(arn)
        self._usable(key)
        return key

