"""The Prometheus metric families of a server process (issue 13): their names are a public interface.

Every layer that does the work counts it here (s3/ the requests, kms/ its calls, db/ the catalog's
commits, blobs the fsyncs), so this module is a leaf: it imports prometheus_client and nothing of ours.

With `--workers N` the server sets PROMETHEUS_MULTIPROC_DIR before it starts the workers (server.py):
prometheus_client then keeps each process's values in its own memory-mapped file there, and a scrape of
any worker reads them all (`exposition`). The choice is made when prometheus_client is first imported,
which is why the families below are made at import time and the parent sets the variable, never a
worker.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY

# Small S3 requests take about a millisecond: the buckets start below that and reach a minute (a large
# body on a slow link).
_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)

S3_REQUESTS = Counter("strongroom_s3_requests_total",
                      "S3 requests answered, by AWS operation and HTTP status", ("operation", "status"))
S3_DURATION = Histogram("strongroom_s3_request_duration_seconds",
                        "Seconds from a request's arrival to the end of its answer", ("operation",),
                        buckets=_REQUEST_BUCKETS)
S3_BYTES_RECEIVED = Counter("strongroom_s3_bytes_received_total", "Request body bytes received")
S3_BYTES_SENT = Counter("strongroom_s3_bytes_sent_total", "Response body bytes sent")

KMS_REQUESTS = Counter("strongroom_kms_requests_total",
                       "Calls to the KMS (built-in or external), by operation and outcome (ok or the error "
                       "code)", ("operation", "outcome"))
KMS_DURATION = Histogram("strongroom_kms_request_duration_seconds", "Seconds a call to the KMS took",
                         ("operation",), buckets=_FAST_BUCKETS)
KMS_CACHE_HITS = Counter("strongroom_kms_cache_hits_total",
                         "S3 Bucket Key data keys served from the cache instead of a GenerateDataKey call")

CATALOG_COMMIT = Histogram("strongroom_catalog_commit_duration_seconds",
                           "Seconds a catalog write transaction took to commit (a group commit counts once)",
                           buckets=_FAST_BUCKETS)
BLOB_FSYNC = Histogram("strongroom_blob_fsync_duration_seconds",
                       "Seconds the fsync of a blob file (and of its directory) took", buckets=_FAST_BUCKETS)

# Gauges: every process of a deployment reads the same stored figures (s3/inventory.py), so with several
# workers the most recent value of any of them is the figure.
OBJECTS = Gauge("strongroom_objects", "Stored object versions, by bucket and encryption type",
                ("bucket", "encryption"), multiprocess_mode="mostrecent")
OBJECT_BYTES = Gauge("strongroom_object_bytes", "Plaintext bytes of stored object versions, by bucket and "
                     "encryption type", ("bucket", "encryption"), multiprocess_mode="mostrecent")
INVENTORY_AGE = Gauge("strongroom_inventory_age_seconds",
                      "Seconds since strongroom_objects and strongroom_object_bytes were counted",
                      multiprocess_mode="mostrecent")
ROOT_KEY_AGE = Gauge("strongroom_root_key_age_seconds", "Seconds since the current root key was recorded",
                     multiprocess_mode="mostrecent")
KMS_KEY_ROTATION_AGE = Gauge("strongroom_kms_key_rotation_age_seconds",
                             "Seconds since a built-in KMS key's material was made or last rotated", ("key",),
                             multiprocess_mode="mostrecent")
VERIFY_LAST_RUN = Gauge("strongroom_verify_last_run_timestamp_seconds",
                        "When the last `strongroom verify` of the whole store ended (Unix time)",
                        multiprocess_mode="mostrecent")
VERIFY_FAILED = Gauge("strongroom_verify_failed_objects",
                      "Objects the last `strongroom verify` of the whole store found failed",
                      multiprocess_mode="mostrecent")
READY = Gauge("strongroom_ready", "1 while this server answers /health/ready with 200, else 0",
              multiprocess_mode="livemin")


def exposition(multiprocess_dir: Path | None) -> tuple[bytes, str]:
    """The text a scrape answers, and its content type: every worker's values with `multiprocess_dir`."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_ended(multiprocess_dir: Path, pid: int) -> None:
    """Drop a worker that ended from the live gauges (`livemin`)."""
    multiprocess.mark_process_dead(pid, str(multiprocess_dir))
