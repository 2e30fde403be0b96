"""deploy/: the Grafana dashboard and the Prometheus alert rules use only metrics a real server exposes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from tests.integration.factory import ServerFactory
from tests.integration.scrapes import scrape
from tests.integration.server import RunningServer

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bstrongroom_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    found += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return found


def scraped_names(server: RunningServer) -> set[str]:
    return {name for name, _ in scrape(server)}


def test_every_metric_the_dashboard_and_alerts_use_is_scraped(start_server: ServerFactory) -> None:
    server = start_server("--metrics-interval", "0.5")
    s3, kms = server.client(), server.client("kms")
    s3.create_bucket(Bucket="deployed")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket="deployed", Key="k", Body=b"x" * 100_000, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key, BucketKeyEnabled=True)
    s3.put_object(Bucket="deployed", Key="k2", Body=b"y", ServerSideEncryption="aws:kms", SSEKMSKeyId=key,
                  BucketKeyEnabled=True)  # the second PUT is served by the Bucket Key cache
    s3.get_object(Bucket="deployed", Key="k")["Body"].read()
    server.raw("GET", "/health/ready", sign=False)
    deadline = time.monotonic() + 15  # the gauges counted in the background: their next round
    while "strongroom_objects" not in (scraped := scraped_names(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    families = scraped | {name.removesuffix(suffix) for name in scraped for suffix in SUFFIXES
                          if name.endswith(suffix)}
    used = {name for expr in expressions() for name in METRIC.findall(expr)}
    assert len(used) >= 12, used
    # A counter or gauge appears by its name; a histogram by its _bucket/_count/_sum series.
    missing = {name for name in used if name not in scraped and name not in families}
    assert not missing, f"the deploy files use metrics no scrape has: {sorted(missing)}"
