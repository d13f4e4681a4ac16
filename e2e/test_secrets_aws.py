"""The AWS Secrets Manager backend against moto's server on 127.0.0.1, with
IAM request authentication on, so a request with a wrong signature or an
unknown key fails as it would on AWS. The C client is driven through
e2e/test_secrets_aws_probe.c, built here against the project's libraries."""

import json
import os
import pathlib
import subprocess
import urllib.request

import boto3
import pytest

from conftest import free_port, stop_process, wait_for_http

TOP = pathlib.Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
PKGS = "libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"

DB_SECRET = {"password": "pw-moto-4b1d", "user": "app"}
PLAIN_SECRET = "plain-moto-88aa"

TRUST_USER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/mason-ci"}},
                  {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                   "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.local"}}],
}
TRUST_OTHER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"}}],
}
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
}
CI_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue",
                                                 "sts:AssumeRole"], "Resource": "*"}],
}


def set_auth(url, count):
    """Sets how many requests moto serves before it checks signatures and IAM policies."""
    req = urllib.request.Request(f"{url}/moto-api/reset-auth", data=str(count).encode(),
                                 headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def populate(url):
    """Creates the users, roles and secrets of the tests; returns the access keys."""
    session = boto3.Session(aws_access_key_id="setup", aws_secret_access_key="setup",
                            region_name=REGION)
    iam = session.client("iam", endpoint_url=url)
    sm = session.client("secretsmanager", endpoint_url=url)
    keys = {}
    for user, policy in (("mason-ci", CI_POLICY), ("no-perms", None)):
        iam.create_user(UserName=user)
        if policy:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    for role, trust, policy in (("reader", TRUST_USER, READ_POLICY),
                                ("no-read", TRUST_USER, None),
                                ("untrusted", TRUST_OTHER, READ_POLICY)):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        if policy:
            iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(policy))
    sm.create_secret(Name="prod/db", SecretString=json.dumps(DB_SECRET))
    sm.create_secret(Name="plain", SecretString=PLAIN_SECRET)
    return keys


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_http(f"{url}/moto-api/", proc, "moto_server")
        set_auth(url, 1000000)
        keys = populate(url)
        set_auth(url, 0)
        yield {"url": url, "keys": keys}
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """Builds the probe against build/<variant>/libmason-*.a. MASON_SANITIZE=address,undefined
    builds it with those sanitizers, as `make SANITIZE=...` does."""
    sanitize = os.environ.get("MASON_SANITIZE", "")
    variant = sanitize.replace(",", "-") or "default"
    subprocess.run(["make", "-s", "-C", str(TOP), f"SANITIZE={sanitize}",
                    f"build/{variant}/libmason-operator.a", f"build/{variant}/libmason-webhook.a",
                    f"build/{variant}/libmason-common.a"], check=True)
    out = tmp_path_factory.mktemp("probe") / "secrets-aws-probe"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PKGS.split()], check=True,
                           capture_output=True, text=True).stdout.split()
    if sanitize:
        flags += [f"-fsanitize={sanitize}", "-fno-sanitize-recover=all"]
    lib = TOP / "build" / variant
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", "-I", str(TOP / "common"),
                    "-I", str(TOP / "operator"), "-o", str(out),
                    str(TOP / "e2e/test_secrets_aws_probe.c"), str(lib / "libmason-operator.a"),
                    str(lib / "libmason-webhook.a"), str(lib / "libmason-common.a"), *flags,
                    "-lpthread", "-lm"], check=True)
    return out


def run_probe(probe, tmp_path, moto, commands, keys=None, extra_env=None, **config):
    """Runs the probe with an aws-sm backend and returns its JSON lines."""
    backend = {"endpoint": moto["url"], "region": REGION, **config}
    if "assume_role_arn" in config or extra_env:
        backend["sts_endpoint"] = moto["url"]
    cfg = {"backends": [{"scheme": "aws-sm", "backend": "aws-secrets-manager",
                         "config": backend}]}
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if keys:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = keys
    env.update(extra_env or {})
    proc = subprocess.run([str(probe), str(path), *commands], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def role_arn(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def test_json_field_and_plain_secret(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto,
                    ["lookup:aws-sm://prod/db#password", "lookup:aws-sm://prod/db#user",
                     "lookup:aws-sm://plain", "lookup:aws-sm://prod/db"],
                    keys=moto["keys"]["mason-ci"])
    assert out[0] == {"ref": "aws-sm://prod/db#password", "value": DB_SECRET["password"]}
    assert out[1]["value"] == "app"
    assert out[2]["value"] == PLAIN_SECRET
    assert json.loads(out[3]["value"]) == DB_SECRET


def test_missing_secret_names_it(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/nope#password"],
                    keys=moto["keys"]["mason-ci"])
    assert out[0]["error"] == "NOTFOUND"
    assert out[0]["reason"] == "SecretNotFound"
    assert 'secret "prod/nope" not found in AWS Secrets Manager in region us-east-1' \
        in out[0]["message"]


def test_wrong_signature_rejected(probe, moto, tmp_path):
    key_id, _ = moto["keys"]["mason-ci"]
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password"],
                    keys=(key_id, "not-the-secret-key"))
    assert out[0]["error"] == "UNAUTHORIZED"
    assert out[0]["reason"] == "SecretAccessDenied"
    assert "SignatureDoesNotMatch" in out[0]["message"]
    assert DB_SECRET["password"] not in json.dumps(out)


def test_unknown_access_key_rejected(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password"],
                    keys=("AKIAUNKNOWNKEY000000", "whatever"))
    assert out[0]["error"] == "UNAUTHORIZED"
    assert "InvalidClientTokenId" in out[0]["message"]


def test_access_denied_names_identity(probe, moto, tmp_path):
    key_id, secret = moto["keys"]["no-perms"]
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password"],
                    keys=(key_id, secret))
    assert out[0]["error"] == "FORBIDDEN"
    assert out[0]["reason"] == "SecretAccessDenied"
    assert f'access to secret "prod/db" denied for access key {key_id}' in out[0]["message"]


def test_access_denied_names_role(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password", "sts-calls"],
                    keys=moto["keys"]["mason-ci"], assume_role_arn=role_arn("no-read"))
    assert out[0]["error"] == "FORBIDDEN"
    assert f'denied for role {role_arn("no-read")}' in out[0]["message"]
    assert out[1] == {"sts_calls": 1}


def test_assume_role(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto,
                    ["lookup:aws-sm://prod/db#password", "lookup:aws-sm://plain", "sts-calls"],
                    keys=moto["keys"]["mason-ci"], assume_role_arn=role_arn("reader"))
    assert out[0]["value"] == DB_SECRET["password"]
    assert out[1]["value"] == PLAIN_SECRET
    assert out[2] == {"sts_calls": 1}


def test_assume_role_rejected_by_trust_policy(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password"],
                    keys=moto["keys"]["mason-ci"], assume_role_arn=role_arn("untrusted"))
    assert out[0]["error"] == "FORBIDDEN"
    assert f'STS AssumeRole of role {role_arn("untrusted")} failed' in out[0]["message"]


def test_web_identity_token_file(probe, moto, tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YWdlbnRzOm1hc29uIn0.c2ln\n")
    env = {"AWS_ROLE_ARN": role_arn("reader"), "AWS_WEB_IDENTITY_TOKEN_FILE": str(token)}
    # AssumeRoleWithWebIdentity is unsigned on AWS too, but moto's IAM check
    # requires a signature on every request, so it is let through unchecked.
    # NOTE: moto does not verify the token itself.
    set_auth(moto["url"], 1)
    try:
        out = run_probe(probe, tmp_path, moto,
                        ["lookup:aws-sm://prod/db#password", "sts-calls"], extra_env=env)
    finally:
        set_auth(moto["url"], 0)
    assert out[0]["value"] == DB_SECRET["password"]
    assert out[1] == {"sts_calls": 1}


def test_web_identity_token_file_missing(probe, moto, tmp_path):
    env = {"AWS_ROLE_ARN": role_arn("reader"),
           "AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "absent")}
    out = run_probe(probe, tmp_path, moto, ["lookup:aws-sm://prod/db#password", "sts-calls"],
                    extra_env=env)
    assert out[0]["error"] == "IO"
    assert "cannot read token file" in out[0]["message"]
    assert "(AWS_WEB_IDENTITY_TOKEN_FILE)" in out[0]["message"]
    assert out[1] == {"sts_calls": 0}


def test_credentials_refreshed_before_expiry(probe, moto, tmp_path):
    # moto issues AssumeRole credentials for 3600 s; they are replaced 300 s early.
    out = run_probe(probe, tmp_path, moto,
                    ["lookup:aws-sm://prod/db#password", "advance:3000",
                     "lookup:aws-sm://prod/db#password", "sts-calls", "advance:400",
                     "lookup:aws-sm://prod/db#password", "sts-calls"],
                    keys=moto["keys"]["mason-ci"], assume_role_arn=role_arn("reader"),
                    cache_ttl="0s")
    assert [line.get("value") for line in (out[0], out[1], out[3])] == [DB_SECRET["password"]] * 3
    assert out[2] == {"sts_calls": 1}
    assert out[4] == {"sts_calls": 2}


def test_cache_shares_one_call(probe, moto, tmp_path):
    out = run_probe(probe, tmp_path, moto,
                    ["lookup:aws-sm://prod/db#password", "lookup:aws-sm://prod/db#user",
                     "stats", "advance:300", "lookup:aws-sm://prod/db#user", "stats"],
                    keys=moto["keys"]["mason-ci"])
    assert [out[i]["value"] for i in (0, 1, 3)] == [DB_SECRET["password"], "app", "app"]
    assert out[2] == {"lookups": 2, "hits": 1, "backend_calls": 1}
    assert out[4] == {"lookups": 3, "hits": 1, "backend_calls": 2}
