"""The Vault backend against a real Vault dev server on 127.0.0.1. Vault's
Kubernetes auth method reviews the operator's service-account token with the
local kube-apiserver, and mason-operator resolves vault:// references of
AgentTasks into the per-run Secret. The server is built by
e2e/toolchain/build.sh (cached apart from the control plane)."""

import base64
import json
import os
import pathlib
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import DEFAULT_CONFIG, TOP, free_port, stop_process, wait_for_http, wait_until

TASK_TIMEOUT = 90
KV_MOUNT = "agents"
DEPLOY = {"token": "vault-e2e-" + secrets.token_hex(8), "user": "ci"}
PRIVATE = {"token": "private-" + secrets.token_hex(8)}
READ_POLICY = f'path "{KV_MOUNT}/data/ci/*" {{ capabilities = ["read"] }}\n'


class Vault:
    """A Vault dev server: its HTTP API with the root token, and its audit log."""

    def __init__(self, url, root_token, audit_log):
        self.url = url
        self.root_token = root_token
        self.audit_log = audit_log
        self.sa_namespace = None  # namespace of the ServiceAccounts, set by the fixture

    def call(self, method, path, body=None, check=True):
        """Sends a request with the root token and returns (status, decoded JSON or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method=method,
                                     headers={"X-Vault-Token": self.root_token,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, text = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        if check and status >= 300:
            raise AssertionError(f"Vault {method} {path} returned HTTP {status}: {text!r}")
        return status, (json.loads(text) if text else None)

    def write_kv(self, path, data):
        """Writes a KV v2 secret. A fresh KV v2 mount rejects writes until its
        upgrade finishes, so writes are retried for up to 10 s."""
        for _ in range(50):
            status, reply = self.call("POST", f"{KV_MOUNT}/data/{path}", {"data": data},
                                      check=False)
            if status < 300:
                return
            time.sleep(0.2)
        raise AssertionError(f"writing {KV_MOUNT}/{path} failed: HTTP {status} {reply}")

    def audited(self, path):
        """Returns the audit log's responses to requests for path, oldest first."""
        out = []
        for line in self.audit_log.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") == "response" and entry["request"].get("path") == path:
                out.append(entry)
        return out


def vault_binary():
    out = subprocess.run([str(TOP / "e2e/toolchain/build.sh"), "--print-vault"], check=True,
                         capture_output=True, text=True)
    path = pathlib.Path(out.stdout.strip()) / "vault"
    if not path.exists():
        pytest.fail(f"{path} is missing; run e2e/toolchain/build.sh (scripts/run-e2e.sh does)")
    return path


def kube_access(cluster):
    """Returns the API server URL and its CA certificate (PEM) from the kubeconfig."""
    def field(path):
        return cluster.kubectl("config", "view", "--raw", "--minify", "-o",
                               f"jsonpath={{{path}}}").stdout
    server = field(".clusters[0].cluster.server")
    ca = base64.b64decode(field(".clusters[0].cluster.certificate-authority-data")).decode()
    return server, ca


def service_account_token(cluster, namespace, name):
    """Issues a token for a ServiceAccount through the TokenRequest API."""
    return cluster.kubectl("create", "token", name, "-n", namespace,
                           "--duration=2h").stdout.strip()


def setup_kubernetes(cluster):
    """Creates the ServiceAccounts of the token reviewer, the operator and an unbound
    account, and returns their namespace."""
    namespace = cluster.namespace("vault")
    for name in ("vault-reviewer", "mason-operator", "someone-else"):
        cluster.kubectl("create", "serviceaccount", name, "-n", namespace)
    cluster.apply({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{namespace}-token-review"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "vault-reviewer",
                      "namespace": namespace}],
    })
    return namespace


def setup_vault(vault, cluster, sa_namespace):
    """Enables KV v2 and Kubernetes auth, and writes the policy, roles and secrets."""
    vault.call("POST", f"sys/mounts/{KV_MOUNT}", {"type": "kv", "options": {"version": "2"}})
    vault.call("POST", "sys/auth/kubernetes", {"type": "kubernetes"})
    server, ca = kube_access(cluster)
    vault.call("POST", "auth/kubernetes/config", {
        "kubernetes_host": server, "kubernetes_ca_cert": ca,
        "token_reviewer_jwt": service_account_token(cluster, sa_namespace, "vault-reviewer"),
    })
    vault.call("PUT", "sys/policies/acl/mason-read", {"policy": READ_POLICY})
    role = {"bound_service_account_names": ["mason-operator"],
            "bound_service_account_namespaces": [sa_namespace],
            "token_policies": ["mason-read"], "token_ttl": "1h"}
    vault.call("POST", "auth/kubernetes/role/mason-operator", role)
    # Tokens of this role expire quickly, so the operator renews them within a test.
    vault.call("POST", "auth/kubernetes/role/mason-short",
               dict(role, token_ttl="15s", token_max_ttl="10m"))
    vault.call("POST", "auth/kubernetes/role/other-account",
               dict(role, bound_service_account_names=["someone-else"]))
    vault.write_kv("ci/deploy", DEPLOY)
    vault.write_kv("ci/retired", {"token": "old"})
    vault.call("DELETE", f"{KV_MOUNT}/data/ci/retired")
    vault.write_kv("private/admin", PRIVATE)


@pytest.fixture(scope="module")
def vault(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vault")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root_token = secrets.token_hex(16)
    log = open(workdir / "vault.log", "w")
    # -dev-no-store-token and HOME keep the root token out of the user's ~/.vault-token.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env["HOME"] = str(workdir)
    proc = subprocess.Popen([str(vault_binary()), "server", "-dev",
                             f"-dev-listen-address=127.0.0.1:{port}",
                             f"-dev-root-token-id={root_token}", "-dev-no-store-token"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        # sys/health answers 200 only once the server is initialised, unsealed and active.
        wait_for_http(f"{url}/v1/sys/health", proc, "vault server")
        server = Vault(url, root_token, workdir / "audit.log")
        server.call("POST", "sys/audit/file",
                    {"type": "file", "options": {"file_path": str(server.audit_log)}})
        sa_namespace = setup_kubernetes(cluster)
        setup_vault(server, cluster, sa_namespace)
        server.sa_namespace = sa_namespace
        yield server
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def token_file(cluster, vault, tmp_path):
    """The operator's service-account token, as the kubelet would project it."""
    path = tmp_path / "token"
    path.write_text(service_account_token(cluster, vault.sa_namespace, "mason-operator"))
    return path


@pytest.fixture
def namespace(cluster):
    return cluster.namespace("vault-task")


def start_operator(operator_factory, vault, token_file, namespace, role="mason-operator"):
    config = DEFAULT_CONFIG + f"""\
secret_resolver:
  backends:
    - scheme: vault
      backend: vault
      config:
        address: {vault.url}
        role: {role}
        token_path: {token_file}
        cache_ttl: 0s
  policy:
    allowed_schemes: [vault]
"""
    return operator_factory(config, namespaces=[namespace])


def agent_task(name, namespace, env):
    return {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"prompt": "Deploy the fix.", "engine": "claude-code", "env": env}}


def task_status(cluster, namespace, name):
    obj = cluster.get("agenttask", name, namespace=namespace, check=False)
    return (obj or {}).get("status", {})


def wait_phase(cluster, namespace, name, phase):
    return wait_until(lambda: task_status(cluster, namespace, name).get("phase") == phase
                      and task_status(cluster, namespace, name),
                      TASK_TIMEOUT, f"AgentTask {namespace}/{name} in phase {phase}")


def job_of(cluster, namespace, name):
    def find():
        return [j for j in cluster.items("jobs", namespace=namespace)
                if j["metadata"].get("labels", {}).get("mason.dev/task") == name]
    return wait_until(find, TASK_TIMEOUT, f"Job of {name}")[0]


def env_entry(job, name):
    container = job["spec"]["template"]["spec"]["containers"][0]
    return next(e for e in container.get("env", []) if e["name"] == name)


def secret_value(cluster, namespace, secret, key):
    data = cluster.get("secret", secret, namespace=namespace)["data"]
    return base64.b64decode(data[key]).decode()


def resolved_run(cluster, namespace, name, env_name):
    """Waits for the task's Job and returns it with the name of the Secret behind env_name."""
    job = job_of(cluster, namespace, name)
    ref = env_entry(job, env_name)["valueFrom"]["secretKeyRef"]
    assert ref["key"] == env_name
    return job, ref["name"]


def running_pod(cluster, namespace, job):
    selector = f"batch.kubernetes.io/job-name={job['metadata']['name']}"

    def find():
        pods = cluster.items("pods", namespace=namespace, selector=selector)
        return [p["metadata"]["name"] for p in pods
                if p.get("status", {}).get("phase") == "Running"]
    return wait_until(find, TASK_TIMEOUT * 2, f"running pod of {selector}")[0]


def test_kv_field_reaches_run_secret(cluster, vault, token_file, namespace, operator_factory,
                                     kwok):
    op = start_operator(operator_factory, vault, token_file, namespace)
    cluster.apply(agent_task("deploy", namespace, [
        {"name": "DEPLOY_TOKEN", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#token"},
        {"name": "DEPLOY_USER", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#user"}]))
    job, secret = resolved_run(cluster, namespace, "deploy", "DEPLOY_TOKEN")
    assert secret.endswith("-env")
    assert env_entry(job, "DEPLOY_USER")["valueFrom"]["secretKeyRef"]["name"] == secret
    assert secret_value(cluster, namespace, secret, "DEPLOY_TOKEN") == DEPLOY["token"]
    assert secret_value(cluster, namespace, secret, "DEPLOY_USER") == DEPLOY["user"]
    run_secret = cluster.get("secret", secret, namespace=namespace)
    assert run_secret["metadata"]["labels"]["mason.dev/task"] == "deploy"
    assert run_secret["metadata"]["ownerReferences"][0]["kind"] == "AgentTask"

    assert DEPLOY["token"] not in json.dumps(job)
    task = cluster.get("agenttask", "deploy", namespace=namespace)
    assert DEPLOY["token"] not in json.dumps(task)
    assert DEPLOY["token"] not in op.log.read_text()
    assert len(vault.audited("auth/kubernetes/login")) >= 1
    reads = vault.audited(f"{KV_MOUNT}/data/ci/deploy")
    assert reads and "error" not in reads[-1]

    kwok.finish(namespace, running_pod(cluster, namespace, job), 0)
    wait_phase(cluster, namespace, "deploy", "Succeeded")
    wait_until(lambda: cluster.get("secret", secret, namespace=namespace, check=False) is None,
               TASK_TIMEOUT, f"deletion of the run Secret {secret}")


@pytest.mark.parametrize("ref, reason, expected", [
    (f"vault://{KV_MOUNT}/ci/deploy#password", "SecretFieldNotFound",
     f'secret "{KV_MOUNT}/ci/deploy" has no field "password"'),
    (f"vault://{KV_MOUNT}/ci/absent#token", "SecretNotFound",
     f'no secret at Vault KV v2 path "{KV_MOUNT}/ci/absent"'),
    (f"vault://{KV_MOUNT}/ci/retired#token", "SecretNotFound",
     f'the current version of Vault secret "{KV_MOUNT}/ci/retired" is deleted'),
    (f"vault://{KV_MOUNT}/private/admin#token", "SecretAccessDenied",
     f'Vault denied reading "{KV_MOUNT}/private/admin" to role "mason-operator"'),
], ids=["missing-field", "missing-secret", "deleted-version", "denied-path"])
def test_unresolvable_ref_fails_task(cluster, vault, token_file, namespace, operator_factory,
                                     ref, reason, expected):
    op = start_operator(operator_factory, vault, token_file, namespace)
    cluster.apply(agent_task("bad-ref", namespace, [{"name": "DEPLOY_TOKEN", "secretRef": ref}]))
    status = wait_phase(cluster, namespace, "bad-ref", "Failed")
    assert status["reason"] == reason
    assert "env DEPLOY_TOKEN" in status["message"]
    assert expected in status["message"]
    assert not cluster.items("jobs", namespace=namespace)
    for value in (DEPLOY["token"], PRIVATE["token"]):
        assert value not in status["message"]
        assert value not in op.log.read_text()


def test_login_rejected_names_role(cluster, vault, token_file, namespace, operator_factory):
    start_operator(operator_factory, vault, token_file, namespace, role="other-account")
    cluster.apply(agent_task("wrong-role", namespace, [
        {"name": "DEPLOY_TOKEN", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#token"}]))
    status = wait_phase(cluster, namespace, "wrong-role", "Failed")
    assert status["reason"] == "SecretAccessDenied"
    assert 'Vault Kubernetes login with role "other-account"' in status["message"]
    assert "check that the role exists" in status["message"]


def test_login_again_after_revocation(cluster, vault, token_file, namespace, operator_factory):
    start_operator(operator_factory, vault, token_file, namespace)
    env = [{"name": "DEPLOY_TOKEN", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#token"}]
    logins = len(vault.audited("auth/kubernetes/login"))
    cluster.apply(agent_task("before-revoke", namespace, env))
    resolved_run(cluster, namespace, "before-revoke", "DEPLOY_TOKEN")
    assert len(vault.audited("auth/kubernetes/login")) == logins + 1

    # Revokes every token issued by the Kubernetes auth method, the operator's included.
    vault.call("PUT", "sys/leases/revoke-prefix/auth/kubernetes/login")
    reads_before = len(vault.audited(f"{KV_MOUNT}/data/ci/deploy"))
    cluster.apply(agent_task("after-revoke", namespace, env))
    _, secret = resolved_run(cluster, namespace, "after-revoke", "DEPLOY_TOKEN")
    assert secret_value(cluster, namespace, secret, "DEPLOY_TOKEN") == DEPLOY["token"]
    assert len(vault.audited("auth/kubernetes/login")) == logins + 2
    reads = vault.audited(f"{KV_MOUNT}/data/ci/deploy")[reads_before:]
    assert "invalid token" in reads[0].get("error", "")
    assert "error" not in reads[1]


def test_token_renewed_before_expiry(cluster, vault, token_file, namespace, operator_factory):
    start_operator(operator_factory, vault, token_file, namespace, role="mason-short")
    env = [{"name": "DEPLOY_TOKEN", "secretRef": f"vault://{KV_MOUNT}/ci/deploy#token"}]
    logins = len(vault.audited("auth/kubernetes/login"))
    renewals = len(vault.audited("auth/token/renew-self"))
    cluster.apply(agent_task("first", namespace, env))
    resolved_run(cluster, namespace, "first", "DEPLOY_TOKEN")
    logged_in_by = time.monotonic()

    # The role's tokens live 15 s. Once 10 s have passed, the next read renews first.
    time.sleep(max(0.0, logged_in_by + 10.5 - time.monotonic()))
    cluster.apply(agent_task("second", namespace, env))
    _, secret = resolved_run(cluster, namespace, "second", "DEPLOY_TOKEN")
    assert secret_value(cluster, namespace, secret, "DEPLOY_TOKEN") == DEPLOY["token"]
    renewed = vault.audited("auth/token/renew-self")
    assert len(renewed) == renewals + 1
    assert "error" not in renewed[-1]
    assert len(vault.audited("auth/kubernetes/login")) == logins + 1
