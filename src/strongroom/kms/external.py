"""A client for an external AWS-KMS-compatible endpoint (`--kms-endpoint`), used instead of the built-in KMS.

One aiohttp ClientSession (keep-alive) for the life of the process, created on the
serving loop; every request is signed with SigV4 for service "kms". KMS errors come
back as KmsError with the endpoint's own code and message; an endpoint that cannot
be reached, times out or answers something that is not the KMS protocol is
`KmsUnavailable`, which the S3 side turns into a failure: nothing is stored
without a data key, nothing is read without the KMS's say-so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp

from strongroom import metrics, sigv4
from strongroom.kms import errors
from strongroom.kms.errors import KmsError
from strongroom.kms.model import DISABLED, PENDING_DELETION

log = logging.getLogger("strongroom.kms.external")

TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


class KmsUnavailable(Exception):
    """The external KMS did not answer (or not in its protocol). Never carries secrets."""


class ExternalKms:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self.access_key, self._secret_key, self.region = access_key, secret_key, region
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"ExternalKms({self.endpoint!r}, region={self.region!r})"

    async def call(self, op: str, payload: dict[str, Any], quiet: bool = False) -> dict[str, Any]:
        """One call; `quiet`: a KMS that does not answer is not logged (the readiness check reports it)."""
        start, outcome = time.perf_counter(), "ok"
        try:
            return await self._call(op, payload, quiet)
        except KmsError as e:
            outcome = e.code
            raise
        except Exception:
            outcome = "Unavailable"
            raise
        finally:
            metrics.KMS_REQUESTS.labels(op, outcome).inc()
            metrics.KMS_DURATION.labels(op).observe(time.perf_counter() - start)

    async def _call(self, op: str, payload: dict[str, Any], quiet: bool) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{op}"}
        digest = hashlib.sha256(body).hexdigest()
        headers.update(sigv4.sign_headers("POST", self.endpoint, headers, digest, self.access_key,
                                          self._secret_key, self.region, "kms", datetime.now(UTC)))
        try:
            async with self._session.post(self.endpoint, data=body, headers=headers) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            if not quiet:
                log.error("KMS %s at %s failed: %s", op, self.endpoint, type(e).__name__)
            raise KmsUnavailable(f"the KMS at {self.endpoint} did not answer {op}") from None
        try:
            document = json.loads(raw) if raw.strip() else {}
        except ValueError:
            document = None
        if not isinstance(document, dict):
            log.log(logging.INFO if quiet else logging.ERROR, "KMS %s at %s: HTTP %d, not a KMS JSON answer",
                    op, self.endpoint, status)
            raise KmsUnavailable(f"the KMS at {self.endpoint} answered {op} with HTTP {status}")
        if status >= 300:
            code = str(document.get("__type") or f"HTTP{status}").rsplit("#", 1)[-1].split(":", 1)[0]
            message = str(document.get("message") or document.get("Message") or "")
            raise KmsError(code, message, status)
        return document

    async def generate_data_key(self, key_id: str, context: dict[str, str]) -> tuple[bytes, bytes, str]:
        result = await self.call("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256",
                                                    "EncryptionContext": context})
        try:
            plaintext = base64.b64decode(result["Plaintext"])
            blob = base64.b64decode(result["CiphertextBlob"])
            arn = str(result["KeyId"])
        except (KeyError, ValueError, TypeError):
            raise KmsUnavailable("GenerateDataKey answered without a data key") from None
        if len(plaintext) != 32:
            raise KmsUnavailable("GenerateDataKey answered with a data key that is not 256 bits")
        return plaintext, blob, arn

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        payload: dict[str, Any] = {"CiphertextBlob": base64.b64encode(blob).decode(),
                                   "EncryptionContext": context}
        if key_arn:
            payload["KeyId"] = key_arn
        result = await self.call("Decrypt", payload)
        try:
            return base64.b64decode(result["Plaintext"])
        except (KeyError, ValueError, TypeError):
            raise KmsUnavailable("Decrypt answered without a plaintext") from None

    async def check_usable(self, key_arn: str) -> None:
        meta = (await self.call("DescribeKey", {"KeyId": key_arn})).get("KeyMetadata") or {}
        state = meta.get("KeyState")
        if state == DISABLED or (state is None and meta.get("Enabled") is False):
            raise errors.disabled(key_arn)
        if state == PENDING_DELETION:
            raise errors.pending_deletion(key_arn)
        if state not in (None, "Enabled"):
            raise KmsError("KMSInvalidStateException", f"{key_arn} is {state}.")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
