"""The BucketLoggingStatus document, log object keys (simple and partitioned), and the logging service as a
policy principal."""

from __future__ import annotations

import calendar
import json

import pytest

from strongroom import policy
from strongroom.catalog.model import Bucket
from strongroom.errors import S3Error
from strongroom.s3 import bucket_logging as model

SOURCE = Bucket("photos", "owner", "eu-west-1", 0.0)
EVENT = calendar.timegm((2026, 3, 4, 5, 6, 7))
DELIVERY = calendar.timegm((2026, 3, 5, 1, 2, 3))


def status(inner: str) -> bytes:
    return (f'<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}'
            "</BucketLoggingStatus>").encode()


def test_key_formats() -> None:
    simple = model.LoggingConfig("logs", "p/")
    assert simple.key("123456789012", SOURCE, EVENT, DELIVERY, "U" * 16) == (
        f"p/2026-03-05-01-02-03-{'U' * 16}")
    event = model.LoggingConfig("logs", "p/", "EventTime")
    assert event.key("123456789012", SOURCE, EVENT, DELIVERY, "U" * 16) == (
        f"p/123456789012/eu-west-1/photos/2026/03/04/2026-03-04-00-00-00-{'U' * 16}")
    delivery = model.LoggingConfig("logs", "", "DeliveryTime")
    assert delivery.key("123456789012", SOURCE, EVENT, DELIVERY, "U" * 16) == (
        f"123456789012/eu-west-1/photos/2026/03/05/2026-03-05-01-02-03-{'U' * 16}")
    generated = simple.key("123456789012", SOURCE, EVENT, DELIVERY)
    assert generated != simple.key("123456789012", SOURCE, EVENT, DELIVERY)  # unique per object


def test_parse_render_round_trip() -> None:
    assert model.parse(status("")) is None
    config = model.parse(status(
        "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>a/</TargetPrefix>"
        "<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>DeliveryTime</PartitionDateSource>"
        "</PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled>"))
    assert config == model.LoggingConfig("logs", "a/", "DeliveryTime")
    assert model.parse(model.render(config)) == config
    assert model.LoggingConfig.from_stored(config.to_json()) == config
    assert b"<BucketLoggingStatus" in model.render(None) and b"LoggingEnabled" not in model.render(None)
    default = model.parse(status(
        "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix></TargetPrefix></LoggingEnabled>"))
    assert default == model.LoggingConfig("logs", "", "default")
    assert b"TargetObjectKeyFormat" not in model.render(default)


@pytest.mark.parametrize("inner", [
    "<LoggingEnabled><TargetBucket>logs</TargetBucket></LoggingEnabled>",  # TargetPrefix is required
    "<LoggingEnabled><TargetPrefix>a</TargetPrefix></LoggingEnabled>",
    "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>a</TargetPrefix><X/></LoggingEnabled>",
    "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>a</TargetPrefix><TargetObjectKeyFormat>"
    "<SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat></LoggingEnabled>",
    "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>a</TargetPrefix><TargetGrants><Grant>"
    "<Grantee><ID>x</ID></Grantee><Permission>READ_ACP</Permission></Grant></TargetGrants></LoggingEnabled>",
])
def test_malformed_documents(inner: str) -> None:
    with pytest.raises(S3Error) as err:
        model.parse(status(inner))
    assert err.value.code == "MalformedXML"


def test_the_logging_service_is_a_policy_principal() -> None:
    document = policy.parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": model.SERVICE}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}}]}),
        kind="bucket", account_id="123456789012", bucket="logs")
    service = policy.Principal.service(model.SERVICE)

    def decide(principal: policy.Principal, source: str) -> policy.Decision:
        rc = policy.RequestContext("s3:PutObject", ("arn:aws:s3:::logs/k",), principal,
                                   {"aws:SourceArn": f"arn:aws:s3:::{source}"})
        return policy.evaluate(rc, resource_policy=document)

    assert decide(service, "photos") is policy.Decision.ALLOW
    assert decide(service, "other") is policy.Decision.IMPLICIT_DENY
    other_service = policy.Principal.service("cloudtrail.amazonaws.com")
    assert decide(other_service, "photos") is policy.Decision.IMPLICIT_DENY
    assert decide(policy.Principal.root("123456789012"), "photos") is policy.Decision.IMPLICIT_DENY
