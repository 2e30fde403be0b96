"""Reading a server's /metrics in tests: every sample by (name, sorted labels), parsed by
prometheus_client's own parser of the text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server import RunningServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: RunningServer, token: str | None = None) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = server.raw("GET", "/metrics", headers=headers, sign=False)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the scrape has no such series."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
