#!/usr/bin/env python3
"""Instructions per presigned 1 KiB GET of the S3 gateway, under callgrind
(docs/PERFORMANCE.md, issue 6). Counts do not depend on the machine's
load, so builds can be compared on a busy host.

`mayfly serve` runs under `valgrind --tool=callgrind`; a 1 KiB object is
uploaded and presigned with `mayfly presign`; wrk replays the URL for 3 s
(warm-up), the counters are zeroed, wrk runs 10 s more, and the counters
are dumped and divided by the requests wrk completed, in all and for the
SigV4 functions (inclusive).

    cargo build --release -p mayfly
    python3 bench/s3_get_instructions.py [--server-binary PATH]

Needs valgrind, wrk and curl (Debian packages).
"""
import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time

from load import free_port, root_cli_env, server_env, target_dir, wait_ready
from s3 import create_bucket

FUNCTIONS = ["authenticate_sigv4", "canonical_query_string", "query_decode",
             "QueryAuthParams::extract", "memcpy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-binary", help="mayfly binary to measure (default: the release build)")
    args = ap.parse_args()
    mayfly = args.server_binary or os.path.join(target_dir(), "release", "mayfly")
    work = tempfile.mkdtemp(prefix="mayfly-get-instructions-")
    env = server_env()
    cli_env = root_cli_env(work)
    api_port, s3_port = free_port(), free_port()
    out = os.path.join(work, "callgrind.out")
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", mayfly, "serve",
                               "--data-dir", f"{work}/data", "--listen", f"127.0.0.1:{api_port}",
                               "--s3-listen", f"127.0.0.1:{s3_port}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s3 = f"http://127.0.0.1:{s3_port}"

    def presign(method):
        return subprocess.run([mayfly, "presign", "s3://bench/small", "--method", method, "--expires-in", "3600",
                               "--endpoint-url", s3], env=cli_env, check=True, capture_output=True,
                              text=True).stdout.strip()

    try:
        for _ in range(120):  # slow to start under valgrind
            try:
                wait_ready(f"http://127.0.0.1:{api_port}/healthz")
                break
            except Exception:
                time.sleep(1)
        create_bucket(s3, "bench")
        small = os.path.join(work, "small")
        with open(small, "wb") as f:
            f.write(os.urandom(1024))
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "-T", small, presign("PUT")], check=True)
        url = presign("GET")
        script = os.path.join(work, "get.lua")
        with open(script, "w") as f:
            f.write(f'wrk.method = "GET"\nwrk.path = "{url[len(s3):]}"\n'
                    f'wrk.headers["Host"] = "127.0.0.1:{s3_port}"\n')
        wrk = ["wrk", "-t1", "-c4", "-s", script, s3 + "/"]
        subprocess.run(wrk + ["-d3s"], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
        report = subprocess.run(wrk + ["-d10s"], check=True, capture_output=True, text=True).stdout
        requests = int(next(line for line in report.splitlines() if "requests in" in line).split()[0])
        subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
        time.sleep(2)
        dump = max(glob.glob(out + "*"), key=os.path.getmtime)
        annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", dump], check=True,
                                   capture_output=True, text=True).stdout.splitlines()

        def count(line):
            return int(line.split()[0].replace(",", ""))

        total = count(next(line for line in annotated if "PROGRAM TOTALS" in line))
        print(f"{requests} GETs: {total / requests / 1000:.1f} k instructions each")
        for name in FUNCTIONS:
            line = next((line for line in annotated if name in line), None)
            if line:
                print(f"  {name} (inclusive): {count(line) / requests / 1000:.1f} k")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
