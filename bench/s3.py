#!/usr/bin/env python3
"""S3 gateway benchmark for docs/PERFORMANCE.md (issue 6), in one run:

1. GET of a 1 KiB object by presigned URL (wrk, the URL replayed as is)
   against the constant-200 baseline sent the very same request.
2. PUT and GET of a 1 GiB object through `mayfly presign` URLs with curl,
   throughput and the peak resident memory of `mayfly serve` meanwhile.

    cargo build --release -p mayfly -p mayfly-server --bins --examples
    python3 bench/s3.py [--duration 5] [--rounds 3] [--size-mib 1024]

Needs wrk and curl (Debian packages). Everything runs on loopback; the 1 GiB
file is written to a temporary directory and removed afterwards.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time

from load import MASTER_KEY, ROOT_ID, ROOT_SECRET, free_port, rss_kib, run_wrk, target_dir, wait_ready


def create_bucket(endpoint, name):
    """CreateBucket, signed by botocore's S3 signer."""
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="PUT", url=f"{endpoint}/{name}", data=b"")
    S3SigV4Auth(Credentials(ROOT_ID, ROOT_SECRET), "s3", "us-east-1").add_auth(request)
    req = urllib.request.Request(f"{endpoint}/{name}", data=b"", headers=dict(request.headers), method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200, f"CreateBucket: {r.status}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install {tool}")
    release = os.path.join(target_dir(), "release")
    mayfly = os.path.join(release, "mayfly")
    work = tempfile.mkdtemp(prefix="mayfly-s3-bench-")
    env = dict(os.environ, MAYFLY_ROOT_ACCESS_KEY_ID=ROOT_ID, MAYFLY_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
               MAYFLY_MASTER_KEY=MASTER_KEY, MAYFLY_LOG="warn")
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cli_env.update(AWS_ACCESS_KEY_ID=ROOT_ID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET, HOME=work)

    base_port, api_port, s3_port = free_port(), free_port(), free_port()
    base = subprocess.Popen([os.path.join(release, "examples", "constant_ok"), f"127.0.0.1:{base_port}"],
                            stdout=subprocess.DEVNULL)
    api = subprocess.Popen([mayfly, "serve", "--data-dir", f"{work}/data", "--listen", f"127.0.0.1:{api_port}",
                            "--s3-listen", f"127.0.0.1:{s3_port}"], env=env, stdout=subprocess.DEVNULL)
    s3 = f"http://127.0.0.1:{s3_port}"

    def presign(key, method, expires=3600):
        return subprocess.run([mayfly, "presign", f"s3://bench/{key}", "--method", method, "--expires-in",
                               str(expires), "--endpoint-url", s3], env=cli_env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def curl(*curl_args):
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", *curl_args],
                             check=True, capture_output=True, text=True).stdout.split()
        return int(out[0]), float(out[1])

    try:
        wait_ready(f"http://127.0.0.1:{base_port}/")
        wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        create_bucket(s3, "bench")
        small = os.path.join(work, "small")
        with open(small, "wb") as f:
            f.write(os.urandom(1024))
        status, _ = curl("-T", small, presign("small", "PUT"))
        assert status == 200, f"PutObject: {status}"

        # 1. 1 KiB GET by presigned URL, baseline sent the same request line.
        url = presign("small", "GET")
        path = url[len(s3):]
        script = os.path.join(work, "get.lua")
        with open(script, "w") as f:
            f.write(f'wrk.method = "GET"\nwrk.path = "{path}"\nwrk.headers["Host"] = "127.0.0.1:{s3_port}"\n')
        shares = []
        print(f"1 KiB GET by presigned URL: wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} rounds\n")
        print("| round | baseline req/s | presigned GET req/s (share) | p99 |")
        print("|---|---|---|---|")
        for i in range(args.rounds):
            b = run_wrk(f"http://127.0.0.1:{base_port}/", script, args.duration, args.connections)
            g = run_wrk(s3 + "/", script, args.duration, args.connections)
            shares.append(g[0] / b[0])
            flag = " (non-2xx seen!)" if g[2] else ""
            print(f"| {i + 1} | {b[0]:,.0f} | {g[0]:,.0f} ({g[0] / b[0]:.0%}){flag} | {g[1]} |")
        print(f"\nmedian share: {sorted(shares)[len(shares) // 2]:.0%}\n")

        # 2. A large object: PUT then GET, with the server's peak RSS.
        big = os.path.join(work, "big")
        subprocess.run(["dd", "if=/dev/urandom", f"of={big}", "bs=1M", f"count={args.size_mib}"],
                       check=True, capture_output=True)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(api.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        status, put_s = curl("-T", big, presign("big", "PUT"))
        assert status == 200, f"PUT big: {status}"
        status, get_s = curl(presign("big", "GET"))
        assert status == 200, f"GET big: {status}"
        stop.set()
        sampler.join()
        size_mb = args.size_mib * 1024 * 1024 / 1e6
        print(f"{args.size_mib} MiB object: PUT {size_mb / put_s:,.0f} MB/s ({put_s:.2f} s), "
              f"GET {size_mb / get_s:,.0f} MB/s ({get_s:.2f} s); "
              f"peak resident memory of mayfly serve: {peak[0] / 1024:.1f} MiB")
    finally:
        base.terminate()
        api.terminate()
        base.wait()
        api.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
