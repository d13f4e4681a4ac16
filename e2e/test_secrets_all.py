"""One AgentTask with references to all three secret backends at once: a
Kubernetes Secret, AWS Secrets Manager (moto's server, with request
authentication on) and Vault (a dev server with Kubernetes auth), dispatched
by scheme under the resolver's policy."""

import json
import urllib.request

import pytest

from conftest import DEFAULT_CONFIG, wait_until
# The servers of the two backend suites, started again for this module.
from test_secrets_aws import DB_SECRET, REGION, moto  # noqa: F401
from test_secrets_vault import (DEPLOY, KV_MOUNT, env_entry, job_of, running_pod,  # noqa: F401
                                secret_value, token_file, vault, wait_phase)

ANTHROPIC_KEY = "sk-ant-e2e-k8s-5f1c"


def config(moto, vault, token_file, allowed):
    return DEFAULT_CONFIG + f"""\
secret_resolver:
  backends:
    - scheme: k8s
      backend: k8s
    - scheme: aws-sm
      backend: aws-secrets-manager
      config:
        endpoint: {moto["url"]}
        region: {REGION}
    - scheme: vault
      backend: vault
      config:
        address: {vault.url}
        role: mason-operator
        token_path: {token_file}
  policy:
    allowed_schemes: [{", ".join(allowed)}]
    blocked_env_patterns: ["AWS_*", "LD_PRELOAD"]
"""


def start_operator(operator_factory, namespace, moto, vault, token_file,
                   allowed=("k8s", "aws-sm", "vault")):
    key_id, secret_key = moto["keys"]["mason-ci"]
    return operator_factory(config(moto, vault, token_file, allowed), namespaces=[namespace],
                            env={"AWS_ACCESS_KEY_ID": key_id,
                                 "AWS_SECRET_ACCESS_KEY": secret_key})


def agent_task(name, namespace, env):
    return {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"prompt": "Ship the release.", "engine": "claude-code", "env": env}}


ALL_REFS = [
    {"name": "DB_PASSWORD", "secretRef": "aws-sm://prod/db#password"},
    {"name": "ANTHROPIC_API_KEY", "secretRef": "k8s://anthropic/api_key"},
    {"name": "DEPLOY_TOKEN", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#token"},
]


def metrics(op):
    """Reads the operator's /metrics as a dict of sample name to value."""
    port = wait_until(lambda: next((line["port"] for line in op.log_lines()
                                    if line["msg"].startswith("serving /healthz")), None), 30,
                      "the operator's metrics port")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {name: float(value) for name, value in
            (line.split() for line in text.splitlines() if line and not line.startswith("#"))}


@pytest.fixture
def namespace(cluster):
    name = cluster.namespace("secrets-all")
    cluster.kubectl("create", "secret", "generic", "anthropic", "-n", name,
                    f"--from-literal=api_key={ANTHROPIC_KEY}")
    return name


def test_three_backends_by_reference_only(cluster, namespace, moto, vault, token_file,
                                          operator_factory, kwok):
    op = start_operator(operator_factory, namespace, moto, vault, token_file)
    cluster.apply(agent_task("release", namespace, ALL_REFS))
    job = job_of(cluster, namespace, "release")
    container = job["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
            if e["name"] in ("DB_PASSWORD", "ANTHROPIC_API_KEY", "DEPLOY_TOKEN")}
    assert len(refs) == 3
    assert all("value" not in env_entry(job, name) for name in refs)
    assert refs["ANTHROPIC_API_KEY"] == {"name": "anthropic", "key": "api_key"}
    run_secret = refs["DB_PASSWORD"]["name"]
    assert refs["DEPLOY_TOKEN"]["name"] == run_secret
    assert secret_value(cluster, namespace, run_secret, "DB_PASSWORD") == DB_SECRET["password"]
    assert secret_value(cluster, namespace, run_secret, "DEPLOY_TOKEN") == DEPLOY["token"]

    task = cluster.get("agenttask", "release", namespace=namespace)
    events = cluster.items("events", namespace=namespace)
    for value in (DB_SECRET["password"], DEPLOY["token"], ANTHROPIC_KEY):
        assert value not in json.dumps(job)
        assert value not in json.dumps(task)
        assert value not in json.dumps(events)
        assert value not in op.log.read_text()
    # One read per secret; a pass repeated after a conflict is served from the cache.
    counters = metrics(op)
    assert counters["mason_secret_lookups_total"] >= 2
    assert counters["mason_secret_backend_calls_total"] == 2

    kwok.finish(namespace, running_pod(cluster, namespace, job), 0)
    wait_phase(cluster, namespace, "release", "Succeeded")
    wait_until(lambda: cluster.get("secret", run_secret, namespace=namespace,
                                   check=False) is None,
               90, f"deletion of the run Secret {run_secret}")
    assert cluster.get("secret", "anthropic", namespace=namespace, check=False)


def test_blocked_env_name_fails_task(cluster, namespace, moto, vault, token_file,
                                     operator_factory):
    start_operator(operator_factory, namespace, moto, vault, token_file)
    cluster.apply(agent_task("blocked", namespace, [
        {"name": "AWS_SECRET_ACCESS_KEY", "secretRef": "aws-sm://plain"}]))
    status = wait_phase(cluster, namespace, "blocked", "Failed")
    assert "AWS_SECRET_ACCESS_KEY" in status["message"]
    assert "AWS_*" in status["message"]
    assert not cluster.items("jobs", namespace=namespace)


def test_disallowed_scheme_fails_task(cluster, namespace, moto, vault, token_file,
                                      operator_factory):
    start_operator(operator_factory, namespace, moto, vault, token_file,
                   allowed=("k8s", "vault"))
    cluster.apply(agent_task("no-aws", namespace, ALL_REFS))
    status = wait_phase(cluster, namespace, "no-aws", "Failed")
    assert "aws-sm" in status["message"]
    assert "env DB_PASSWORD" in status["message"]
    assert not cluster.items("jobs", namespace=namespace)
