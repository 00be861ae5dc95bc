#!/usr/bin/env python3
"""S3 gateway benchmark for docs/PERFORMANCE.md (issue 6), in one run:

1. GET of a 1 KiB object by presigned URL (wrk, the URL replayed as is)
   against the constant-200 baseline sent the very same request.
2. PUT and GET of a 1 GiB object through `mayfly presign` URLs with curl
   (and the PUT again with the body sent by sendfile(2), a client that
   takes next to no CPU), and the multipart upload of the same file the
   aws CLI would make (--part-mib parts, --part-concurrency at a time,
   each by a presigned UploadPart URL, from CreateMultipartUpload to
   CompleteMultipartUpload),
   --large-rounds times: throughput and the peak resident memory of
   `mayfly serve` meanwhile.

    cargo build --release -p mayfly -p mayfly-server --bins --examples
    python3 bench/s3.py [--duration 5] [--rounds 3] [--size-mib 1024]
                        [--large-rounds 3] [--part-mib 8] [--part-concurrency 4]
                        [--skip-small] [--skip-large] [--list-keys N]
                        [--server-binary PATH]

--list-keys N uploads N small objects (16 at a time, signed by botocore)
and times ListObjectsV2: the first request after a restart (it loads the
bucket's key index from disk), then the best of 5 for a 1,000-key page, the
top level with delimiter `/`, and 10 keys under a prefix.

The load average is printed before and after (the machine has 2 cores and
the load generator shares them); the resident memory of `mayfly serve` is
reported before the large transfers and as the peak during each of them.

Needs wrk and curl (Debian packages) and boto3 (pip). Everything runs on loopback; the 1 GiB
file is written to a temporary directory and removed afterwards.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time

from load import (ROOT_ID, ROOT_SECRET, free_port, root_cli_env, rss_kib, run_wrk, server_env, target_dir,
                  wait_ready)


def signed_s3(method, url, data=b""):
    """One S3 request signed by botocore's S3 signer with the root key; the body."""
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=data)
    S3SigV4Auth(Credentials(ROOT_ID, ROOT_SECRET), "s3", "us-east-1").add_auth(request)
    req = urllib.request.Request(url, data=data if method in ("PUT", "POST") else None,
                                 headers=dict(request.headers), method=method)
    with urllib.request.urlopen(req) as r:
        assert r.status == 200, f"{method} {url}: {r.status}"
        return r.read()


def create_bucket(endpoint, name):
    """CreateBucket, signed by botocore's S3 signer."""
    signed_s3("PUT", f"{endpoint}/{name}")


def upload_keys(s3, n):
    """n small objects d<i%10>/s<i/10%10>/obj-<i> in bucket `bench`."""
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"d{i % 10}/s{(i // 10) % 10}/obj-{i:06d}" for i in range(n)]
    started = time.time()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: signed_s3("PUT", f"{s3}/bench/{k}", k.encode()), keys))
    print(f"uploaded {n:,} keys in {time.time() - started:.1f} s; server restarted")


def time_listing(s3, n):
    """ListObjectsV2 latencies over the bucket of n (+2) keys."""
    def once(query):
        started = time.time()
        signed_s3("GET", f"{s3}/bench?list-type=2{query}")
        return (time.time() - started) * 1000

    first = once("&max-keys=1000")
    page, root, small = (min(once(q) for _ in range(5))
                         for q in ("&max-keys=1000", "&delimiter=%2F", "&prefix=d3%2Fs4%2F&max-keys=10"))
    print(f"ListObjectsV2 over {n:,} keys: first request after the restart {first:.1f} ms; "
          f"1,000-key page {page:.1f} ms, top level with delimiter {root:.1f} ms, "
          f"10 keys under a prefix {small:.1f} ms (best of 5)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--skip-small", action="store_true", help="no 1 KiB GET rounds")
    ap.add_argument("--skip-large", action="store_true", help="no large PUT/GET")
    ap.add_argument("--large-rounds", type=int, default=3, help="rounds of the large transfers")
    ap.add_argument("--part-mib", type=int, default=8, help="multipart part size (the aws CLI's default: 8)")
    ap.add_argument("--part-concurrency", type=int, default=4, help="parts in flight at once")
    ap.add_argument("--list-keys", type=int, default=0, help="also time listing a bucket of N keys")
    ap.add_argument("--server-binary", help="mayfly binary to measure (default: the release build)")
    args = ap.parse_args()
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install {tool}")
    release = os.path.join(target_dir(), "release")
    mayfly = args.server_binary or os.path.join(release, "mayfly")
    print(f"load average before: {load_average()}")
    work = tempfile.mkdtemp(prefix="mayfly-s3-bench-")
    env = server_env()
    cli_env = root_cli_env(work)

    base_port, api_port, s3_port = free_port(), free_port(), free_port()
    base = subprocess.Popen([os.path.join(release, "examples", "constant_ok"), f"127.0.0.1:{base_port}"],
                            stdout=subprocess.DEVNULL)
    serve = [mayfly, "serve", "--data-dir", f"{work}/data", "--listen", f"127.0.0.1:{api_port}",
             "--s3-listen", f"127.0.0.1:{s3_port}"]
    api = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL)
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
        if not args.skip_small:
            small_gets(args, s3, s3_port, base_port, work, presign("small", "GET"))
        if not args.skip_large:
            large_transfers(args, api, s3, work, presign, curl)
        if args.list_keys:
            upload_keys(s3, args.list_keys)
            api.terminate()
            api.wait()
            api = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL)
            wait_ready(f"http://127.0.0.1:{api_port}/healthz")
            time_listing(s3, args.list_keys)
        print(f"load average after: {load_average()}")
    finally:
        base.terminate()
        api.terminate()
        base.wait()
        api.wait()
        shutil.rmtree(work, ignore_errors=True)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def small_gets(args, s3, s3_port, base_port, work, url):
    """1 KiB GET by presigned URL against the baseline, interleaved rounds."""
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


def large_transfers(args, api, s3, work, presign, curl):
    """PUT then GET of a large object, with the server's peak memory: one
    PutObject by curl, and the multipart upload the aws CLI would make."""
    big = os.path.join(work, "big")
    subprocess.run(["dd", "if=/dev/urandom", f"of={big}", "bs=1M", f"count={args.size_mib}"],
                   check=True, capture_output=True)
    put_url, get_url = presign("big", "PUT"), presign("big", "GET")
    before = rss_kib(api.pid)
    size_mb = args.size_mib * 1024 * 1024 / 1e6
    print(f"{args.size_mib} MiB object; resident memory of mayfly serve before: {before / 1024:.1f} MiB\n")
    print(f"| round | PutObject (curl) | PutObject (sendfile) "
          f"| multipart, {args.part_mib} MiB parts x {args.part_concurrency} | GetObject (curl) "
          f"| peak RSS (in each transfer) |")
    print("|---|---|---|---|---|---|")
    rates = {"put": [], "put-sendfile": [], "multipart": [], "get": []}
    for i in range(args.large_rounds):
        peak = 0
        peaks = []
        row = []
        for name, transfer in (("put", lambda: curl("-T", big, put_url)),
                               ("put-sendfile", lambda: put_by_sendfile(put_url, big)),
                               ("multipart", lambda: multipart_upload(args, s3, big)),
                               ("get", lambda: curl(get_url))):
            (status, seconds), used = with_peak_rss(api.pid, transfer)
            assert status == 200, f"{name} big: {status}"
            peak = max(peak, used)
            peaks.append(f"{used / 1024:.1f}")
            rates[name].append(size_mb / seconds)
            row.append(f"{size_mb / seconds:,.0f} MB/s ({seconds:.2f} s)")
        print(f"| {i + 1} | {' | '.join(row)} | {peak / 1024:.1f} MiB ({' / '.join(peaks)}) |")
    medians = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
    print(f"\nmedian: PutObject {medians['put']:,.0f} MB/s (curl), {medians['put-sendfile']:,.0f} MB/s "
          f"(sendfile), multipart {medians['multipart']:,.0f} MB/s, "
          f"GetObject {medians['get']:,.0f} MB/s\n")


def put_by_sendfile(url, path):
    """PUT path to the presigned url with the body sent by sendfile(2): the
    kernel moves the file from the page cache to the socket, so the client
    takes next to no CPU from the two cores the server shares with it
    (curl reads and sends 64 KiB at a time). The status and the seconds
    from connecting to the end of the response."""
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    size = os.path.getsize(path)
    started = time.time()
    with socket.create_connection((parts.hostname, parts.port)) as sock, open(path, "rb") as f:
        head = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Length: {size}\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode())
        sock.sendfile(f)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    seconds = time.time() - started
    return int(response.split(b" ", 2)[1]), seconds


def with_peak_rss(pid, transfer):
    """transfer()'s result, and the peak resident memory of pid meanwhile."""
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        return transfer(), peak[0]
    finally:
        stop.set()
        sampler.join()


def multipart_upload(args, s3, path):
    """Upload path as `bench/big-multipart` the way the aws CLI does: parts
    of --part-mib sent --part-concurrency at a time, each by a presigned
    UploadPart URL (an unsigned payload, as the single PUT's); the status
    of CompleteMultipartUpload and the seconds from Create to Complete."""
    import http.client
    import re
    import urllib.parse
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id=ROOT_ID,
                          aws_secret_access_key=ROOT_SECRET,
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    size = os.path.getsize(path)
    part = args.part_mib * 1024 * 1024
    numbers = range(1, (size + part - 1) // part + 1)
    started = time.time()
    upload_id = client.create_multipart_upload(Bucket="bench", Key="big-multipart")["UploadId"]

    def send(number):
        url = urllib.parse.urlsplit(client.generate_presigned_url(
            "upload_part", ExpiresIn=3600,
            Params={"Bucket": "bench", "Key": "big-multipart", "UploadId": upload_id, "PartNumber": number}))
        with open(path, "rb") as f:
            f.seek((number - 1) * part)
            body = f.read(part)
        conn = http.client.HTTPConnection(url.hostname, url.port)
        conn.request("PUT", f"{url.path}?{url.query}", body=body)
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200, f"UploadPart {number}: {response.status}"
        return {"PartNumber": number, "ETag": response.getheader("ETag")}

    with ThreadPoolExecutor(args.part_concurrency) as pool:
        parts = list(pool.map(send, numbers))
    done = client.complete_multipart_upload(Bucket="bench", Key="big-multipart", UploadId=upload_id,
                                            MultipartUpload={"Parts": parts})
    seconds = time.time() - started
    assert re.fullmatch(r'"[0-9a-f]{32}-\d+"', done["ETag"]), done["ETag"]
    return done["ResponseMetadata"]["HTTPStatusCode"], seconds


if __name__ == "__main__":
    main()
