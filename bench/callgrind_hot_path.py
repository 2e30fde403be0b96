"""Server instructions per 4 KiB PUT and GET, counted by callgrind: a figure the machine's noise does not
move (two runs of one commit agree within 0.1%), for before/after comparisons of the hot path.

    .venv/bin/python -m bench.callgrind_hot_path SRC_DIR LABEL [serve flags...]
    git archive main | tar -x -C /tmp/base && .venv/bin/python -m bench.callgrind_hot_path /tmp/base/src base

A fresh `strongroom serve` from SRC_DIR runs under `valgrind --tool=callgrind`; after 20 warm-up PUTs and
GETs its counts are zeroed, then N (env N, default 300) sequential 4 KiB PUTs to new keys (SSE-S3) and N
GETs of them are sent by boto3, each phase dumped on its own (callgrind_control). Prints instructions per
request of each phase, the server's whole process (all its threads) included.
"""

from __future__ import annotations

import base64
import glob
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

AK, SK = "SRBENCH0000000000001", "bench-secret-123"


def main(src: str, label: str, *flags: str) -> None:
    n = int(os.environ.get("N", "300"))
    work = f"/tmp/callgrind-{label}"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work + "/data", mode=0o700)
    key_file = work + "/root-key"
    with open(key_file, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    os.chmod(key_file, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_"))}
    env.update(PYTHONPATH=src, STRONGROOM_DATA_DIR=work + "/data", STRONGROOM_ROOT_KEY_FILE=key_file,
               STRONGROOM_ROOT_ACCESS_KEY=AK, STRONGROOM_ROOT_SECRET_KEY=SK)
    out, ready = work + "/callgrind.out", work + "/ready"
    with open(work + "/server.log", "wb") as log:
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                 sys.executable, "-m", "strongroom", "serve", "--port", "0",
                                 "--ready-file", ready, *flags],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    while not (os.path.exists(ready) and Path(ready).read_text().strip()):
        if proc.poll() is not None:
            raise SystemExit(Path(work, "server.log").read_text())
        time.sleep(0.5)
    port = int(Path(ready).read_text())
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=AK,
                      aws_secret_access_key=SK, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 1}, read_timeout=120))
    s3.create_bucket(Bucket="bench")
    body = os.urandom(4096)
    for i in range(20):
        s3.put_object(Bucket="bench", Key=f"w{i}", Body=body)
        s3.get_object(Bucket="bench", Key=f"w{i}")["Body"].read()
    control = ["callgrind_control"]
    subprocess.run([*control, "--zero", str(proc.pid)], check=True, capture_output=True)
    for i in range(n):
        s3.put_object(Bucket="bench", Key=f"k{i}", Body=body)
    subprocess.run([*control, "--dump=put", str(proc.pid)], check=True, capture_output=True)
    for i in range(n):
        assert len(s3.get_object(Bucket="bench", Key=f"k{i}")["Body"].read()) == 4096
    subprocess.run([*control, "--dump=get", str(proc.pid)], check=True, capture_output=True)
    proc.terminate()
    proc.wait()
    totals: dict[str, int] = {}
    for path in sorted(glob.glob(out + "*")):
        text = Path(path).read_text(errors="replace")
        phase = re.search(r"^desc: Trigger: .*?(put|get)", text, re.M)
        summary = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if phase and summary:
            totals[phase.group(1)] = totals.get(phase.group(1), 0) + int(summary.group(1))
    print(label, "  ".join(f"{k}: {v / n / 1e6:.3f} M instructions/request" for k, v in totals.items()))


if __name__ == "__main__":
    main(*sys.argv[1:])
