#!/usr/bin/env python3
"""Where one 1 GiB PutObject's time goes, per thread of `mayfly serve`
(docs/PERFORMANCE.md, issue 6).

For each round, a PUT of the same 1 GiB file by a presigned URL, once with
the body sent by sendfile(2) and once by curl; for each, the throughput,
how busy the two cores were (/proc/stat), and per server thread the time
it ran and the time it was runnable but waiting for a core
(/proc/PID/task/TID/schedstat before and after). Blocking-pool threads
are all named tokio-rt-worker; the hashing step is the one that ran
longest.

    cargo build --release -p mayfly -p mayfly-server --bins --examples
    python3 bench/put_profile.py [--rounds 2] [--server-binary PATH]

Needs curl; everything runs on loopback.
"""
import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time

from load import free_port, root_cli_env, server_env, target_dir, wait_ready
from s3 import create_bucket, put_by_sendfile


def threads(pid):
    """{tid: (name, ns run, ns runnable-waiting)} of pid."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/comm") as f:
                name = f.read().strip()
            with open(f"{task}/schedstat") as f:
                run, wait, _ = map(int, f.read().split())
        except OSError:
            continue  # the thread ended meanwhile
        out[os.path.basename(task)] = (name, run, wait)
    return out


def cpu_ticks():
    """(all ticks, idle + iowait ticks) of the machine."""
    with open("/proc/stat") as f:
        values = list(map(int, f.readline().split()[1:]))
    return sum(values), values[3] + values[4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--server-binary", help="mayfly binary to measure (default: the release build)")
    args = ap.parse_args()
    mayfly = args.server_binary or os.path.join(target_dir(), "release", "mayfly")
    work = tempfile.mkdtemp(prefix="mayfly-put-profile-")
    env = server_env()
    cli_env = root_cli_env(work)
    api_port, s3_port = free_port(), free_port()
    server = subprocess.Popen([mayfly, "serve", "--data-dir", f"{work}/data", "--listen",
                               f"127.0.0.1:{api_port}", "--s3-listen", f"127.0.0.1:{s3_port}"],
                              env=env, stdout=subprocess.DEVNULL)
    s3 = f"http://127.0.0.1:{s3_port}"
    try:
        wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        create_bucket(s3, "bench")
        big = os.path.join(work, "big")
        subprocess.run(["dd", "if=/dev/urandom", f"of={big}", "bs=1M", "count=1024"],
                       check=True, capture_output=True)
        url = subprocess.run([mayfly, "presign", "s3://bench/big", "--method", "PUT", "--expires-in",
                              "3600", "--endpoint-url", s3], env=cli_env, check=True,
                             capture_output=True, text=True).stdout.strip()
        for _ in range(args.rounds):
            for client in ("sendfile", "curl"):
                before, ticks_before = threads(server.pid), cpu_ticks()
                started = time.time()
                if client == "curl":
                    subprocess.run(["curl", "-sS", "-o", "/dev/null", "-T", big, url], check=True)
                else:
                    put_by_sendfile(url, big)
                seconds = time.time() - started
                after, ticks_after = threads(server.pid), cpu_ticks()
                total = ticks_after[0] - ticks_before[0]
                idle = ticks_after[1] - ticks_before[1]
                print(f"{client}: {1024 * 1024 * 1024 / 1e6 / seconds:.0f} MB/s in {seconds:.2f} s; "
                      f"the two cores {100 * (total - idle) / total:.0f} % busy")
                rows = []
                for tid, (name, run, wait) in after.items():
                    _, run0, wait0 = before.get(tid, (name, 0, 0))
                    if run - run0 > 10_000_000:
                        rows.append(((run - run0) / 1e9, (wait - wait0) / 1e9, tid, name))
                for ran, waited, tid, name in sorted(rows, reverse=True):
                    print(f"    {name} {tid}: ran {ran:.2f} s, runnable but waiting {waited:.2f} s")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
