#!/usr/bin/env python3
"""Roles Anywhere benchmarks of issue 5, for docs/PERFORMANCE.md:

1. CreateSession with an ECDSA P-256 chain of depth 2 (root CA -> intermediate
   -> leaf) against AssumeRole's throughput in the same run (target: at least
   25 %);
2. the agent's IMDS endpoint (`mayfly agent --imds-listen`) answering from its
   cache (target: at least 20,000 requests/s), against the constant-200
   baseline of bench/load.py on the same listener stack.

    cargo build --release -p mayfly -p mayfly-server --bins --examples
    python3 bench/roles_anywhere.py [--duration 10] [--connections 32] [--rounds 3] [--leaves 1]

Needs wrk (Debian), botocore (signs the admin and IAM calls) and
`cryptography` (pip: makes the PKI and signs CreateSession). Everything runs on
loopback; bench/load.py's helpers start nothing but are reused.

CreateSession requests are SigV4-X509 (roles-anywhere.md 3.2), signed here by
an independent signer. The server refuses a request only outside the +-15 min
X-Amz-Date skew: it keeps no replay record for CreateSession, as AWS documents
none. So a pool of --pool distinct requests (ECDSA signatures are randomized;
each has its own X-Amz-Date second) is signed in advance per round and a wrk
script cycles through it; every request still costs the server a full
signature verification. --leaves N spreads the pool over N leaf certificates
with distinct subjects (N devices), all issued by the one intermediate.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the helpers of bench/load.py)

REGION = "us-east-1"
ACCOUNT = "000000000000"


# --- PKI ---------------------------------------------------------------------------------------

def make_pki(leaves):
    """A P-256 root CA, an intermediate it signs, and `leaves` P-256 leaves the
    intermediate signs; every certificate ECDSA-SHA256."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bench"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(ca):
        return x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    def cert(subject, key, issuer, issuer_key, ca, path_length=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
                   .add_extension(usage(ca), critical=True))
        return builder.sign(issuer_key, hashes.SHA256())

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert(name("Bench Root CA"), root_key, name("Bench Root CA"), root_key, True, 1)
    int_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = cert(name("Bench Issuing CA"), int_key, root.subject, root_key, True, 0)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
    der = lambda c: c.public_bytes(serialization.Encoding.DER)
    out = []
    for i in range(leaves):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = cert(name(f"device-{i:05d}"), key, intermediate.subject, int_key, False)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        out.append({"key": key, "der": der(leaf), "pem": pem(leaf), "key_pem": key_pem,
                    "serial": leaf.serial_number})
    return {"root_pem": pem(root), "intermediate_der": der(intermediate),
            "intermediate_pem": pem(intermediate), "leaves": out}


# --- SigV4-X509 (roles-anywhere.md 3.2), written from the reference, not from Mayfly's verifier ----

def sign_create_session(leaf, chain_der, host, query, body, amz_date):
    """The headers of one CreateSession request (Host included)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    headers = {
        "content-type": "application/json",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-x509": base64.b64encode(leaf["der"]).decode(),
        "x-amz-x509-chain": base64.b64encode(chain_der).decode(),
    }
    signed = sorted(headers)
    pairs = sorted(tuple(p.split("=", 1)) for p in query.split("&") if p)
    canonical = "\n".join([
        "POST", "/sessions", "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{h}:{headers[h].strip()}\n" for h in signed),
        ";".join(signed), hashlib.sha256(body.encode()).hexdigest()])
    scope = f"{amz_date[:8]}/{REGION}/rolesanywhere/aws4_request"
    algorithm = "AWS4-X509-ECDSA-SHA256"
    to_sign = "\n".join([algorithm, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = leaf["key"].sign(to_sign.encode(), ec.ECDSA(hashes.SHA256())).hex()
    headers["authorization"] = (f"{algorithm} Credential={leaf['serial']}/{scope}, "
                                f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    return headers


def session_query(anchor, profile, role):
    enc = lambda v: quote(v, safe="-_.~")
    return f"profileArn={enc(profile)}&roleArn={enc(role)}&trustAnchorArn={enc(anchor)}"


def create_session_pool(path, pki, host, query, body, size):
    """Sign `size` requests spread over the leaves (X-Amz-Date one second apart,
    all within the skew window) and write a wrk script that cycles through them."""
    now = time.time()
    lines = []
    for i in range(size):
        leaf = pki["leaves"][i % len(pki["leaves"])]
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - (i % 300)))
        h = sign_create_session(leaf, pki["intermediate_der"], host, query, body, amz_date)
        lines.append("\t".join([h["x-amz-date"], h["x-amz-x509"], h["authorization"]]))
    with open(path + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    chain = base64.b64encode(pki["intermediate_der"]).decode()
    with open(path, "w") as f:
        f.write(f"""local requests = {{}}
for line in io.lines({json.dumps(path + ".txt")}) do
  local date, x509, authorization = line:match("([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)")
  requests[#requests + 1] = wrk.format("POST", {json.dumps("/sessions?" + query)}, {{
    ["Host"] = {json.dumps(host)},
    ["Content-Type"] = "application/json",
    ["X-Amz-Date"] = date,
    ["X-Amz-X509"] = x509,
    ["X-Amz-X509-Chain"] = {json.dumps(chain)},
    ["Authorization"] = authorization,
  }}, {json.dumps(body)})
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
""")


# --- the admin API (REST-JSON, SigV4 service rolesanywhere) --------------------------------------

def admin(ep, method, path, body, key_id, secret):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = json.dumps(body) if body is not None else ""
    request = AWSRequest(method=method, url=ep + path, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key_id, secret), "rolesanywhere", REGION).add_auth(request)
    req = urllib.request.Request(ep + path, data=data.encode() if data else None, headers=dict(request.headers),
                                 method=method)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read().decode())


def imds_token(imds):
    req = urllib.request.Request(imds + "/latest/api/token", method="PUT",
                                 headers={"x-aws-ec2-metadata-token-ttl-seconds": "21600"})
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def get_script(path, headers):
    lines = ['wrk.method = "GET"']
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(values):
    return sorted(values)[len(values) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--leaves", type=int, default=1, help="distinct leaf certificates (devices) in the pool")
    ap.add_argument("--pool", type=int, default=2000, help="pre-signed CreateSession requests per round")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    release = os.path.join(load.target_dir(), "release")
    work = tempfile.mkdtemp(prefix="mayfly-bench-ra-")
    env = dict(os.environ, MAYFLY_ROOT_ACCESS_KEY_ID=load.ROOT_ID,
               MAYFLY_ROOT_SECRET_ACCESS_KEY=load.ROOT_SECRET, MAYFLY_MASTER_KEY=load.MASTER_KEY,
               MAYFLY_LOG="warn")
    root = (load.ROOT_ID, load.ROOT_SECRET)
    pki = make_pki(args.leaves)
    base_port, api_port = load.free_port(), load.free_port()
    base = subprocess.Popen([os.path.join(release, "examples", "constant_ok"), f"127.0.0.1:{base_port}"],
                            stdout=subprocess.DEVNULL)
    api = subprocess.Popen([os.path.join(release, "mayfly"), "serve", "--data-dir", f"{work}/data",
                            "--listen", f"127.0.0.1:{api_port}"], env=env, stdout=subprocess.DEVNULL)
    agent = None
    try:
        load.wait_ready(f"http://127.0.0.1:{base_port}/")
        load.wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        ep = f"http://127.0.0.1:{api_port}"
        host = f"127.0.0.1:{api_port}"
        iam = "Version=2010-05-08&Action="

        # AssumeRole, exactly as bench/load.py measures it.
        load.call(ep, "iam", iam + "CreateUser&UserName=bench", *root)
        created = load.call(ep, "iam", iam + "CreateAccessKey&UserName=bench", *root)
        uid, usecret = load.between(created, "<AccessKeyId>", "<"), load.between(created, "<SecretAccessKey>", "<")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "AWS": f"arn:aws:iam::{ACCOUNT}:user/bench"}, "Action": "sts:AssumeRole"}]})
        load.call(ep, "iam", iam + "CreateRole&RoleName=bench&AssumeRolePolicyDocument=" + quote(trust, safe=""),
                  *root)
        assume = load.signed(ep, "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&"
                             f"RoleArn=arn%3Aaws%3Aiam%3A%3A{ACCOUNT}%3Arole%2Fbench", uid, usecret)
        load.wrk_script(f"{work}/assume.lua", *assume)

        # Roles Anywhere: anchor (the root), profile, a role trusting the service from that anchor.
        anchor = admin(ep, "POST", "/trustanchors", {
            "name": "bench", "enabled": True,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki["root_pem"]}},
        }, *root)["trustAnchor"]["trustAnchorArn"]
        ra_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "rolesanywhere.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {"ArnEquals": {"aws:SourceArn": anchor}}}]})
        load.call(ep, "iam", iam + "CreateRole&RoleName=ra-bench&AssumeRolePolicyDocument="
                  + quote(ra_trust, safe=""), *root)
        role = f"arn:aws:iam::{ACCOUNT}:role/ra-bench"
        profile = admin(ep, "POST", "/profiles", {"name": "bench", "enabled": True, "roleArns": [role]},
                        *root)["profile"]["profileArn"]
        query = session_query(anchor, profile, role)
        body = json.dumps({"durationSeconds": 3600})

        # One CreateSession per leaf first: it must succeed, and it records each subject
        # (the write the measured requests then skip, roles-anywhere subjects are
        # rewritten at most once a minute when nothing else changed).
        for leaf in pki["leaves"]:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            headers = sign_create_session(leaf, pki["intermediate_der"], host, query, body, stamp)
            req = urllib.request.Request(f"{ep}/sessions?{query}", data=body.encode(), headers=headers,
                                         method="POST")
            with urllib.request.urlopen(req) as r:
                assert r.status == 201 and b"credentialSet" in r.read()

        # The agent: IMDS from its cache, credentials from CreateSession.
        for name, text in [("leaf.pem", pki["leaves"][0]["pem"]), ("leaf.key", pki["leaves"][0]["key_pem"]),
                           ("chain.pem", pki["intermediate_pem"])]:
            with open(f"{work}/{name}", "w") as f:
                f.write(text)
        agent = subprocess.Popen([os.path.join(release, "mayfly"), "agent", "--certificate", f"{work}/leaf.pem",
                                  "--private-key", f"{work}/leaf.key", "--intermediates", f"{work}/chain.pem",
                                  "--trust-anchor-arn", anchor, "--profile-arn", profile, "--role-arn", role,
                                  "--endpoint", ep, "--imds-listen", "127.0.0.1:0"],
                                 env=env, stdout=subprocess.PIPE, text=True)
        imds = None
        while imds is None:
            line = agent.stdout.readline()
            if not line:
                raise RuntimeError("mayfly agent exited")
            if line.startswith("mayfly agent imds="):
                imds = line.strip().split("=", 1)[1]
        token = imds_token(imds)
        credentials_path = "/latest/meta-data/iam/security-credentials/ra-bench"
        deadline = time.monotonic() + 10
        while True:
            req = urllib.request.Request(imds + credentials_path, headers={"x-aws-ec2-metadata-token": token})
            try:
                with urllib.request.urlopen(req) as r:
                    if json.loads(r.read().decode())["Code"] == "Success":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        get_script(f"{work}/imds.lua", {"x-aws-ec2-metadata-token": token})

        rounds = {name: [] for name in ["baseline POST", "AssumeRole", "CreateSession", "baseline GET", "IMDS"]}
        loads = []
        for r in range(args.rounds):
            create_session_pool(f"{work}/session-{r}.lua", pki, host, query, body, args.pool)
            loads.append(load_average())
            run = lambda url, script: load.run_wrk(url, script, args.duration, args.connections)
            rounds["baseline POST"].append(run(f"http://127.0.0.1:{base_port}/", f"{work}/assume.lua"))
            rounds["AssumeRole"].append(run(ep + "/", f"{work}/assume.lua"))
            rounds["CreateSession"].append(run(ep + "/sessions", f"{work}/session-{r}.lua"))
            rounds["baseline GET"].append(run(f"http://127.0.0.1:{base_port}{credentials_path}",
                                              f"{work}/imds.lua"))
            rounds["IMDS"].append(run(imds + credentials_path, f"{work}/imds.lua"))
    finally:
        for process in [p for p in (agent, api, base) if p is not None]:
            process.terminate()
            process.wait()

    print(f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} interleaved rounds, loopback, "
          f"release build, {os.cpu_count()} cores; CreateSession: ECDSA P-256 root -> intermediate -> leaf, "
          f"{args.pool} pre-signed requests per round over {args.leaves} leaf certificate(s)\n")
    print("| round | load avg before | baseline req/s | AssumeRole req/s | CreateSession req/s "
          "(share of AssumeRole) | p99 AssumeRole / CreateSession |")
    print("|---|---|---|---|---|---|")
    shares = []
    for i in range(args.rounds):
        b, a, c = rounds["baseline POST"][i], rounds["AssumeRole"][i], rounds["CreateSession"][i]
        shares.append(c[0] / a[0])
        flag = " (non-2xx seen!)" if a[2] or c[2] else ""
        print(f"| {i + 1} | {loads[i]} | {b[0]:,.0f} | {a[0]:,.0f} | {c[0]:,.0f} ({c[0] / a[0]:.0%}){flag} "
              f"| {a[1]} / {c[1]} |")
    print(f"\nmedian share of AssumeRole, CreateSession: {median(shares):.0%} (target >= 25 %)\n")
    print("| round | baseline GET req/s | IMDS credentials req/s (share of baseline) | p99 IMDS |")
    print("|---|---|---|---|")
    imds_rps = []
    for i in range(args.rounds):
        b, m = rounds["baseline GET"][i], rounds["IMDS"][i]
        imds_rps.append(m[0])
        flag = " (non-2xx seen!)" if m[2] else ""
        print(f"| {i + 1} | {b[0]:,.0f} | {m[0]:,.0f} ({m[0] / b[0]:.0%}){flag} | {m[1]} |")
    print(f"\nmedian IMDS credentials req/s: {median(imds_rps):,.0f} (target >= 20,000)")
    print(f"load average after the run: {load_average()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
