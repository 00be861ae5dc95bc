#!/usr/bin/env python3
"""Load test for docs/PERFORMANCE.md: Mayfly (release build) against the
constant-200 baseline on the same listener stack, in one run.

    cargo build --release -p mayfly -p mayfly-server --bins --examples
    cargo build --release -p mayfly-testkit --bin saml-bench-assertions   # for the SAML scenario
    python3 bench/load.py [--duration 10] [--connections 32] [--rounds 3] [--saml-per-round 60000]

Needs wrk (Debian package) and botocore (pip) to sign the requests in
advance; each signed request is replayed as is (valid for 15 minutes).
Everything runs on loopback.

AssumeRoleWithSAML accepts each assertion once, so its scenario replays no
request: saml-bench-assertions signs --saml-per-round distinct assertions per
round in advance (RSA-SHA256, as most IdPs sign; crates/testkit/src/saml.rs)
and a wrk script sends each once, for --saml-duration seconds; a round that
runs out shows "non-2xx seen".
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT_ID = "AKIAMAYFLYBENCHROOT1"
ROOT_SECRET = "mayfly-bench-root-secret-0123456789abcde"
MASTER_KEY = "02" * 32


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/mayfly-target"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env():
    """The environment of a benchmarked `mayfly serve`: the fixed root key
    and master key, warnings only."""
    return dict(os.environ, MAYFLY_ROOT_ACCESS_KEY_ID=ROOT_ID, MAYFLY_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET,
                MAYFLY_MASTER_KEY=MASTER_KEY, MAYFLY_LOG="warn")


def root_cli_env(home):
    """The environment of an AWS client (`mayfly presign`, the aws CLI) signing
    as the root key, with HOME set to `home` and no other AWS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT_ID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET, HOME=home)
    return env


def wait_ready(url, timeout=10.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"{url} not ready")


def signed(endpoint, service, body, key_id, secret, token=None):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key_id, secret, token), service, "us-east-1").add_auth(request)
    return dict(request.headers), body


def call(endpoint, service, body, key_id, secret, token=None):
    headers, body = signed(endpoint, service, body, key_id, secret, token)
    req = urllib.request.Request(endpoint + "/", data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def between(text, start, end):
    i = text.index(start) + len(start)
    return text[i : text.index(end, i)]


def wrk_script(path, headers, body):
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_wrk(url, script, duration, connections):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(between(out, "Requests/sec:", "\n").strip())
    p99 = between(out, " 99%", "\n").strip()
    non2xx = "Non-2xx" in out
    return rps, p99, non2xx, out


def saml_script(path, bodies):
    """A wrk script sending each line of `bodies` once, in order."""
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"\n'
                f"local bodies = {{}}\nfor line in io.lines({json.dumps(bodies)}) do bodies[#bodies + 1] = line end\n"
                "local i = 0\n"
                "request = function()\n  i = i + 1\n  return wrk.format(nil, nil, nil, bodies[math.min(i, #bodies)])\nend\n")


def setup_saml(ep, work, rounds, per_round):
    """The SAML provider, a role trusting it, and one wrk script per round;
    None when the assertion generator is not built or the scenario is off."""
    tool = os.path.join(target_dir(), "release", "saml-bench-assertions")
    if per_round <= 0 or not os.path.exists(tool):
        return None
    from urllib.parse import quote
    account = "000000000000"
    role_arn, provider_arn = f"arn:aws:iam::{account}:role/saml-bench", f"arn:aws:iam::{account}:saml-provider/bench"
    now = time.time()
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    subprocess.run([tool, work, str(rounds), str(per_round), stamp(now - 120), stamp(now + 4 * 3600),
                    role_arn, provider_arn], check=True)
    with open(f"{work}/metadata.xml") as f:
        metadata = f.read()
    iam = "Version=2010-05-08&Action="
    call(ep, "iam", iam + "CreateSAMLProvider&Name=bench&SAMLMetadataDocument=" + quote(metadata, safe=""),
         ROOT_ID, ROOT_SECRET)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Federated": provider_arn}, "Action": "sts:AssumeRoleWithSAML"}]})
    call(ep, "iam", iam + "CreateRole&RoleName=saml-bench&AssumeRolePolicyDocument=" + quote(trust, safe=""),
         ROOT_ID, ROOT_SECRET)
    scripts = []
    for i in range(rounds):
        saml_script(f"{work}/saml-{i}.lua", f"{work}/bodies-{i}.txt")
        scripts.append(f"{work}/saml-{i}.lua")
    return scripts


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--saml-per-round", type=int, default=60000,
                    help="distinct SAML assertions per round (0: no SAML scenario)")
    ap.add_argument("--saml-duration", type=int, default=3,
                    help="seconds per SAML round (each request needs its own assertion)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    release = os.path.join(target_dir(), "release")
    work = tempfile.mkdtemp(prefix="mayfly-bench-")
    env = server_env()

    # Start-up to ready: spawn to the first 200 from /healthz (median of 5, fresh data dir each).
    startups = []
    for i in range(5):
        port = free_port()
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(release, "mayfly"), "serve", "--data-dir", f"{work}/s{i}",
                              "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL)
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        startups.append((time.monotonic() - t0) * 1000)
        p.terminate()
        p.wait()
    startups.sort()

    base_port, api_port = free_port(), free_port()
    base = subprocess.Popen([os.path.join(release, "examples", "constant_ok"), f"127.0.0.1:{base_port}"],
                            stdout=subprocess.DEVNULL)
    api = subprocess.Popen([os.path.join(release, "mayfly"), "serve", "--data-dir", f"{work}/data",
                            "--listen", f"127.0.0.1:{api_port}"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{base_port}/")
        wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        ep = f"http://127.0.0.1:{api_port}"
        iam = "Version=2010-05-08&Action="
        call(ep, "iam", iam + "CreateUser&UserName=bench", ROOT_ID, ROOT_SECRET)
        created = call(ep, "iam", iam + "CreateAccessKey&UserName=bench", ROOT_ID, ROOT_SECRET)
        uid, usecret = between(created, "<AccessKeyId>", "<"), between(created, "<SecretAccessKey>", "<")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "AWS": "arn:aws:iam::000000000000:user/bench"}, "Action": "sts:AssumeRole"}]})
        from urllib.parse import quote
        call(ep, "iam", iam + "CreateRole&RoleName=bench&AssumeRolePolicyDocument=" + quote(trust, safe=""),
             ROOT_ID, ROOT_SECRET)
        gci = signed(ep, "sts", "Action=GetCallerIdentity&Version=2011-06-15", uid, usecret)
        assume = signed(ep, "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&"
                        "RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fbench", uid, usecret)
        wrk_script(f"{work}/gci.lua", *gci)
        wrk_script(f"{work}/assume.lua", *assume)
        saml = setup_saml(ep, work, args.rounds, args.saml_per_round)

        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(api.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        # The baseline receives the very same signed request bytes as Mayfly, so
        # the ratio isolates Mayfly's own work (parsing the same request head and
        # body costs both the same). Rounds interleave baseline and targets so a
        # burst of background load hits all three alike; the median round counts.
        rounds = {"constant 200 (baseline)": [], "GetCallerIdentity": [], "AssumeRole": [],
                  "AssumeRoleWithSAML": []}
        for r in range(args.rounds):
            rounds["constant 200 (baseline)"].append(
                run_wrk(f"http://127.0.0.1:{base_port}/", f"{work}/gci.lua", args.duration, args.connections))
            rounds["GetCallerIdentity"].append(
                run_wrk(ep + "/", f"{work}/gci.lua", args.duration, args.connections))
            rounds["AssumeRole"].append(
                run_wrk(ep + "/", f"{work}/assume.lua", args.duration, args.connections))
            if saml:
                rounds["AssumeRoleWithSAML"].append(
                    run_wrk(ep + "/", saml[r], args.saml_duration, args.connections))
        stop.set()
        sampler.join()
    finally:
        base.terminate()
        api.terminate()
        base.wait()
        api.wait()

    print(f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} interleaved rounds, loopback, "
          f"release build, {os.cpu_count()} cores\n")
    print("| round | baseline req/s | GetCallerIdentity req/s (share) | AssumeRole req/s (share) | p99 GCI / AssumeRole |")
    print("|---|---|---|---|---|")
    shares = {"GetCallerIdentity": [], "AssumeRole": []}
    for i in range(args.rounds):
        base_rps = rounds["constant 200 (baseline)"][i][0]
        cells = []
        for name in shares:
            rps, _, non2xx, _ = rounds[name][i]
            shares[name].append(rps / base_rps)
            flag = " (non-2xx seen!)" if non2xx else ""
            cells.append(f"{rps:,.0f} ({rps / base_rps:.0%}){flag}")
        p99s = " / ".join(rounds[name][i][1] for name in shares)
        print(f"| {i + 1} | {base_rps:,.0f} | {cells[0]} | {cells[1]} | {p99s} |")
    for name, values in shares.items():
        print(f"\nmedian share of baseline, {name}: {sorted(values)[len(values) // 2]:.0%}")
    if rounds["AssumeRoleWithSAML"]:
        print(f"\nAssumeRoleWithSAML: wrk -t1 -c{args.connections} -d{args.saml_duration}s, one RSA-SHA256 "
              "assertion per request, in the same rounds\n")
        print("| round | AssumeRole req/s | AssumeRoleWithSAML req/s (share of AssumeRole) | p99 SAML |")
        print("|---|---|---|---|")
        saml_shares = []
        for i in range(args.rounds):
            assume_rps = rounds["AssumeRole"][i][0]
            rps, p99, non2xx, _ = rounds["AssumeRoleWithSAML"][i]
            saml_shares.append(rps / assume_rps)
            flag = " (non-2xx seen!)" if non2xx else ""
            print(f"| {i + 1} | {assume_rps:,.0f} | {rps:,.0f} ({rps / assume_rps:.0%}){flag} | {p99} |")
        print(f"\nmedian share of AssumeRole, AssumeRoleWithSAML: {sorted(saml_shares)[len(saml_shares) // 2]:.0%}")
    else:
        print("\nAssumeRoleWithSAML: skipped (build saml-bench-assertions, see the header)")
    print(f"\npeak resident memory of mayfly serve during the run: {peak[0] / 1024:.1f} MiB")
    print(f"start-up to ready (spawn to first /healthz 200), median of 5: {startups[2]:.0f} ms "
          f"(min {startups[0]:.0f}, max {startups[4]:.0f})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
