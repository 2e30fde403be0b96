"""Users made with `strongroom user add` on a running server, and the small pieces the access-control
tests share: an anonymous client, "this call is denied", a policy document."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, keys_in, status_of
from tests.integration.server import RunningServer


class User:
    def __init__(self, server: RunningServer, name: str, account: str) -> None:
        made = server.cli("user", "add", name).stdout
        user_id = re.search(r"\(([0-9a-f]{64})\)", made)
        assert user_id, made
        self.name, self.id = name, user_id.group(1)
        self.access, self.secret = keys_in(made)
        self.arn = f"arn:aws:iam::{account}:user/{name}"
        self.server = server

    def client(self, service: str = "s3", **config: object):
        return self.server.client(service, access_key=self.access, secret_key=self.secret,
                                  retries={"max_attempts": 1}, **config)

    def tls_client(self, server: RunningServer, cert: Path):
        return server.client(access_key=self.access, secret_key=self.secret, verify=str(cert))


_ACCOUNTS: dict[Path, str] = {}  # per data directory: one account each


def account_of(server: RunningServer) -> str:
    if server.data_dir not in _ACCOUNTS:
        _ACCOUNTS[server.data_dir] = server.client("sts").get_caller_identity()["Account"]
    return _ACCOUNTS[server.data_dir]


def new_user(server: RunningServer, prefix: str) -> User:
    return User(server, f"{prefix}-{secrets.token_hex(3)}", account_of(server))


def anonymous(server: RunningServer):
    return server.client("s3", signature_version=UNSIGNED, retries={"max_attempts": 1})


def denied(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert (status_of(e.value), error_code(e.value)) == (403, "AccessDenied"), e.value.response
    return e.value


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
