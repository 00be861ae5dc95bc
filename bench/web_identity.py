#!/usr/bin/env python3
"""AssumeRoleWithWebIdentity throughput against AssumeRole's, in one run
(issue 4: at least 50% with the JWKS cached), for docs/PERFORMANCE.md.

    cargo build --release -p mayfly
    python3 bench/web_identity.py [--duration 10] [--connections 32] [--rounds 3]

Reuses bench/load.py's helpers. The identity provider is a loopback HTTP
server in this script (discovery document and JWKS), so the server runs with
--allow-http-issuer; its keys are fetched once and then served from the
cache. The ID token is RS256, signed here with `cryptography` (pip), valid
for an hour; each request is replayed as is by wrk.
"""
import argparse
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the helpers of bench/load.py)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_issuer():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig",
           "n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))}

    def sign(claims):
        header = b64url(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"

    return jwk, sign


def serve_issuer(port, jwk):
    issuer = f"http://127.0.0.1:{port}"
    documents = {
        "/.well-known/openid-configuration": json.dumps({"issuer": issuer, "jwks_uri": issuer + "/jwks"}),
        "/jwks": json.dumps({"keys": [jwk]}),
    }
    fetches = {"/jwks": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = documents.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            if self.path == "/jwks":
                fetches["/jwks"] += 1
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return issuer, server, fetches


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    release = os.path.join(load.target_dir(), "release")
    work = tempfile.mkdtemp(prefix="mayfly-bench-wi-")
    env = dict(os.environ, MAYFLY_ROOT_ACCESS_KEY_ID=load.ROOT_ID,
               MAYFLY_ROOT_SECRET_ACCESS_KEY=load.ROOT_SECRET, MAYFLY_MASTER_KEY=load.MASTER_KEY,
               MAYFLY_LOG="warn")
    jwk, sign = rsa_issuer()
    issuer, idp, fetches = serve_issuer(load.free_port(), jwk)
    api_port = load.free_port()
    api = subprocess.Popen([os.path.join(release, "mayfly"), "serve", "--data-dir", f"{work}/data",
                            "--listen", f"127.0.0.1:{api_port}", "--allow-http-issuer"],
                           env=env, stdout=subprocess.DEVNULL)
    try:
        load.wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        ep = f"http://127.0.0.1:{api_port}"
        iam = "Version=2010-05-08&Action="
        root = (load.ROOT_ID, load.ROOT_SECRET)
        load.call(ep, "iam", iam + "CreateUser&UserName=bench", *root)
        created = load.call(ep, "iam", iam + "CreateAccessKey&UserName=bench", *root)
        uid = load.between(created, "<AccessKeyId>", "<")
        usecret = load.between(created, "<SecretAccessKey>", "<")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "AWS": "arn:aws:iam::000000000000:user/bench"}, "Action": "sts:AssumeRole"}]})
        load.call(ep, "iam", iam + "CreateRole&RoleName=bench&AssumeRolePolicyDocument=" + quote(trust, safe=""),
                  *root)
        provider = load.between(load.call(ep, "iam", iam + "CreateOpenIDConnectProvider&Url=" + quote(issuer, safe="")
                                          + "&ClientIDList.member.1=bench-client", *root),
                                "<OpenIDConnectProviderArn>", "<")
        host = issuer.removeprefix("http://")
        web_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{host}:aud": "bench-client"}}}]})
        load.call(ep, "iam", iam + "CreateRole&RoleName=web&AssumeRolePolicyDocument=" + quote(web_trust, safe=""),
                  *root)
        now = int(time.time())
        token = sign({"iss": issuer, "aud": "bench-client", "sub": "bench-user",
                      "iat": now, "nbf": now, "exp": now + 3600})
        web_body = urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                              "RoleArn": "arn:aws:iam::000000000000:role/web",
                              "RoleSessionName": "bench", "WebIdentityToken": token})
        web_headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        assume = load.signed(ep, "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&"
                             "RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fbench", uid, usecret)
        load.wrk_script(f"{work}/assume.lua", *assume)
        load.wrk_script(f"{work}/web.lua", web_headers, web_body)
        # One call first: the JWKS is fetched once and cached.
        import urllib.request
        req = urllib.request.Request(ep + "/", data=web_body.encode(), headers=web_headers, method="POST")
        with urllib.request.urlopen(req) as r:
            assert b"AssumeRoleWithWebIdentityResult" in r.read()

        rounds = {"AssumeRole": [], "AssumeRoleWithWebIdentity": []}
        for _ in range(args.rounds):
            rounds["AssumeRole"].append(load.run_wrk(ep + "/", f"{work}/assume.lua", args.duration,
                                                     args.connections))
            rounds["AssumeRoleWithWebIdentity"].append(load.run_wrk(ep + "/", f"{work}/web.lua", args.duration,
                                                                    args.connections))
    finally:
        api.terminate()
        api.wait()
        idp.shutdown()

    print(f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} interleaved rounds, loopback, "
          f"release build, {os.cpu_count()} cores; JWKS fetched {fetches['/jwks']} time(s) in all\n")
    print("| round | AssumeRole req/s | AssumeRoleWithWebIdentity req/s | share | p99 AssumeRole / WebIdentity |")
    print("|---|---|---|---|---|")
    shares = []
    for i in range(args.rounds):
        a_rps, a_p99, a_bad, _ = rounds["AssumeRole"][i]
        w_rps, w_p99, w_bad, _ = rounds["AssumeRoleWithWebIdentity"][i]
        shares.append(w_rps / a_rps)
        flag = " (non-2xx seen!)" if a_bad or w_bad else ""
        print(f"| {i + 1} | {a_rps:,.0f} | {w_rps:,.0f} | {w_rps / a_rps:.0%}{flag} | {a_p99} / {w_p99} |")
    print(f"\nmedian share of AssumeRole: {sorted(shares)[len(shares) // 2]:.0%}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
