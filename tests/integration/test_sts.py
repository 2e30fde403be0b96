"""`aws sts get-caller-identity` and boto3's STS client answer with the deployment's account."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError


def test_get_caller_identity_root_and_user(server) -> None:
    root = server.client("sts").get_caller_identity()
    assert re.fullmatch(r"\d{12}", root["Account"])
    assert root["Arn"] == f"arn:aws:iam::{root['Account']}:root"
    made = server.cli("user", "add", "stsuser").stdout
    ak = re.search(r"access key: (\S+)", made).group(1)  # type: ignore[union-attr]
    sk = re.search(r"secret key: (\S+)", made).group(1)  # type: ignore[union-attr]
    user = json.loads(server.aws("sts", "get-caller-identity", access_key=ak, secret_key=sk).stdout)
    assert user["Account"] == root["Account"]
    assert user["Arn"] == f"arn:aws:iam::{root['Account']}:user/stsuser"


def test_wrong_secret_is_an_sts_error(server) -> None:
    with pytest.raises(ClientError) as err:
        server.client("sts", secret_key="wrong-secret").get_caller_identity()
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
