#!/usr/bin/env python3
"""PutObject of one large file with boto3, as an application would send it
(boto3's default flexible checksum, CRC32, verified by the gateway), against
one or more `mayfly` binaries in interleaved rounds, for docs/PERFORMANCE.md.

    cargo build --release -p mayfly
    python3 bench/sdk_put.py [--size-mib 1024] [--rounds 3] BINARY [BINARY ...]

Each round starts every binary in turn on a fresh data directory, creates a
bucket and times one put_object of the file (random bytes). boto3 computes
its checksum in Python, so the client is part of what is measured: compare
binaries with each other, not with bench/s3.py's curl figures.

Needs boto3 (pip).
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

from load import ROOT_ID, ROOT_SECRET, free_port, server_env, wait_ready


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()

    import boto3
    from botocore.config import Config

    work = tempfile.mkdtemp(prefix="mayfly-sdk-put-")
    big = os.path.join(work, "big")
    subprocess.run(["dd", "if=/dev/urandom", f"of={big}", "bs=1M", f"count={args.size_mib}"],
                   check=True, capture_output=True)
    size_mb = args.size_mib * 1024 * 1024 / 1e6
    env = server_env()
    print(f"put_object of {args.size_mib} MiB with boto3, {args.rounds} interleaved rounds\n")
    print("| round | binary | MB/s (seconds) | checksum in the response |")
    print("|---|---|---|---|")
    try:
        for round_ in range(1, args.rounds + 1):
            for binary in args.binaries:
                api_port, s3_port = free_port(), free_port()
                data = os.path.join(work, "data")
                server = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen",
                                           f"127.0.0.1:{api_port}", "--s3-listen", f"127.0.0.1:{s3_port}"],
                                          env=env, stdout=subprocess.DEVNULL)
                try:
                    wait_ready(f"http://127.0.0.1:{api_port}/healthz")
                    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1",
                                      aws_access_key_id=ROOT_ID, aws_secret_access_key=ROOT_SECRET,
                                      config=Config(s3={"addressing_style": "path"}))
                    s3.create_bucket(Bucket="bench")
                    with open(big, "rb") as f:
                        started = time.time()
                        response = s3.put_object(Bucket="bench", Key="big", Body=f)
                        seconds = time.time() - started
                    headers = response["ResponseMetadata"]["HTTPHeaders"]
                    echoed = ", ".join(h for h in headers if h.startswith("x-amz-checksum-")) or "none"
                    print(f"| {round_} | {binary} | {size_mb / seconds:,.0f} ({seconds:.2f} s) | {echoed} |", flush=True)
                finally:
                    server.terminate()
                    server.wait()
                    shutil.rmtree(data, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
