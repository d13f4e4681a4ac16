"""End-to-end checks of mason-webhook registered with the local API server over TLS.

The module generates a CA and a serving certificate for 127.0.0.1, starts mason-webhook on
an ephemeral loopback port, and registers the manifests from config/webhook/ with their
clientConfig pointed at that port. Every webhook also requires the namespace label
mason.dev/e2e-webhook=<run id>, so it never governs another suite's namespaces, and the
configurations are deleted when the module ends.
"""

import base64
import copy
import http.client
import json
import os
import pathlib
import signal
import ssl
import subprocess
import time
import urllib.request
import uuid

import pytest
import yaml

from conftest import TOP, wait_until

RUN_ID = uuid.uuid4().hex[:8]
SCOPE_LABEL = "mason.dev/e2e-webhook"
WEBHOOK_CONFIG = """\
exemptions:
  namespaces: [kube-system]
secret_resolver:
  backends:
    - {scheme: k8s, backend: k8s}
    - scheme: aws-sm
      backend: aws-secrets-manager
      config: {region: us-east-1, endpoint: "http://127.0.0.1:9"}
  policy:
    allowed_schemes: [k8s, aws-sm]
    blocked_env_patterns: ["AWS_*"]
"""


def make_certificates(directory, ca_name="mason-webhook-e2e-ca"):
    """Writes ca.crt, tls.crt and tls.key (SAN IP 127.0.0.1) with the openssl CLI."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "1", "-subj", f"/CN={ca_name}")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
        "-subj", "/CN=127.0.0.1")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n"
                                       "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tls.crt", "-days", "1", "-extfile", "ext.cnf")


class Webhook:
    """A mason-webhook process on 127.0.0.1 and its registered configurations."""

    def __init__(self, cluster, workdir):
        self.cluster = cluster
        self.workdir = workdir
        self.log = workdir / "webhook.log"
        self.proc = None
        self.port = None
        self.names = []

    def start(self):
        make_certificates(self.workdir)
        config = self.workdir / "webhook.yaml"
        config.write_text(WEBHOOK_CONFIG)
        binary = TOP / "build/default/bin/mason-webhook"
        with open(self.log, "w", encoding="utf-8") as logf:
            self.proc = subprocess.Popen(
                [str(binary), "--config", str(config), "--listen", "127.0.0.1:0",
                 "--tls-cert", str(self.workdir / "tls.crt"),
                 "--tls-key", str(self.workdir / "tls.key"), "--log-level", "debug"],
                stdout=logf, stderr=logf)
        self.port = wait_until(self._port_from_log, 20, "mason-webhook to log its port")

    def _port_from_log(self):
        for line in self.lines():
            if line.get("msg") == "serving admission requests":
                return line["port"]
        if self.proc.poll() is not None:
            raise AssertionError(f"mason-webhook exited: {self.log.read_text()}")
        return None

    def lines(self):
        if not self.log.exists():
            return []
        return [json.loads(l) for l in self.log.read_text().splitlines() if l.startswith("{")]

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def get(self, path):
        context = ssl.create_default_context(cafile=str(self.workdir / "ca.crt"))
        with urllib.request.urlopen(self.url(path), context=context, timeout=10) as response:
            return response.status, response.read().decode()

    def post(self, path, body):
        context = ssl.create_default_context(cafile=str(self.workdir / "ca.crt"))
        request = urllib.request.Request(self.url(path), data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.loads(response.read())

    def register(self):
        """Applies config/webhook/*.yaml pointed at this process and scoped to RUN_ID."""
        ca_bundle = base64.b64encode((self.workdir / "ca.crt").read_bytes()).decode()
        for name in ("mutating.yaml", "validating.yaml"):
            manifest = yaml.safe_load((TOP / "config/webhook" / name).read_text())
            manifest = copy.deepcopy(manifest)
            manifest["metadata"]["name"] = f"mason-webhook-e2e-{RUN_ID}"
            manifest["metadata"].pop("annotations", None)
            for hook in manifest["webhooks"]:
                path = hook["clientConfig"]["service"]["path"]
                hook["clientConfig"] = {"url": self.url(path), "caBundle": ca_bundle}
                selector = hook.setdefault("namespaceSelector", {})
                selector.setdefault("matchExpressions", []).append(
                    {"key": SCOPE_LABEL, "operator": "In", "values": [RUN_ID]})
            self.cluster.apply(manifest)
            self.names.append((manifest["kind"], manifest["metadata"]["name"]))

    def unregister(self):
        for kind, name in self.names:
            self.cluster.kubectl("delete", kind.lower(), name, "--ignore-not-found", check=False)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        return self.proc.returncode if self.proc else None


def registered_webhook(cluster, tmp_path_factory, name):
    """Yields a started and registered Webhook, then unregisters and stops it (for fixtures)."""
    hook = Webhook(cluster, tmp_path_factory.mktemp(name))
    hook.start()
    try:
        hook.register()
        yield hook
    finally:
        hook.unregister()
        hook.stop()


@pytest.fixture(scope="module")
def webhook(cluster, tmp_path_factory):
    yield from registered_webhook(cluster, tmp_path_factory, "webhook")


def governed_namespace(cluster, mode):
    return cluster.namespace(prefix=f"wh-{mode}",
                             labels={"mason.dev/policy": mode, SCOPE_LABEL: RUN_ID})


def pod(name, spec_extra=None, container_extra=None):
    container = {"name": "app", "image": "registry.example/app:1"}
    container.update(container_extra or {})
    spec = {"containers": [container]}
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def wait_for_webhook(cluster, namespace):
    """The API server picks up new configurations within seconds; poll with a dry run."""
    def mutated():
        out = cluster.kubectl("create", "-n", namespace, "--dry-run=server", "-o", "json",
                              "-f", "-", input=json.dumps(pod("probe")), check=False)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)["spec"].get("securityContext", {}).get("runAsNonRoot")
    wait_until(mutated, 60, "the webhook to mutate a dry-run pod")


@pytest.fixture(scope="module")
def enforce_ns(cluster, webhook):
    namespace = governed_namespace(cluster, "enforce")
    wait_for_webhook(cluster, namespace)
    yield namespace
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def create(cluster, namespace, manifest):
    return cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest),
                           check=False)


def test_bare_pod_stored_hardened(cluster, enforce_ns):
    out = create(cluster, enforce_ns, pod("bare"))
    assert out.returncode == 0, out.stderr
    stored = cluster.get("pod", "bare", namespace=enforce_ns)
    pod_sc = stored["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 10000
    assert pod_sc["runAsGroup"] == 10000
    assert pod_sc["fsGroup"] == 10000
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    container_sc = stored["spec"]["containers"][0]["securityContext"]
    assert container_sc["allowPrivilegeEscalation"] is False
    assert container_sc["capabilities"]["drop"] == ["ALL"]
    assert container_sc["readOnlyRootFilesystem"] is True


def test_explicit_root_user_denied(cluster, enforce_ns):
    out = create(cluster, enforce_ns, pod("root", spec_extra={"securityContext": {"runAsUser": 0}}))
    assert out.returncode != 0
    assert "spec.securityContext.runAsUser: must not be 0" in out.stderr
    assert "non-zero user ID" in out.stderr


def test_privileged_pod_denied(cluster, enforce_ns):
    out = cluster.kubectl("run", "priv", "-n", enforce_ns, "--image=registry.example/app:1",
                          "--privileged", check=False)
    assert out.returncode != 0
    assert "spec.containers[0].securityContext.privileged" in out.stderr


def test_host_path_pod_denied(cluster, enforce_ns):
    manifest = pod("hostpath", spec_extra={"volumes": [{"name": "root",
                                                          "hostPath": {"path": "/"}}]},
                   container_extra={"volumeMounts": [{"name": "root", "mountPath": "/host"}]})
    out = create(cluster, enforce_ns, manifest)
    assert out.returncode != 0
    assert "spec.volumes[0].hostPath" in out.stderr


def test_duplicate_claim_volumes_merged(cluster, enforce_ns):
    manifest = pod("claims", spec_extra={"volumes": [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": "session"}},
        {"name": "home", "persistentVolumeClaim": {"claimName": "session"}}]},
        container_extra={"volumeMounts": [
            {"name": "workspace", "mountPath": "/workspace", "subPath": "ws"},
            {"name": "home", "mountPath": "/home/agent", "subPath": "home"}]})
    out = create(cluster, enforce_ns, manifest)
    assert out.returncode == 0, out.stderr
    stored = cluster.get("pod", "claims", namespace=enforce_ns)
    claims = [v for v in stored["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert [v["name"] for v in claims] == ["workspace"]
    mounts = stored["spec"]["containers"][0]["volumeMounts"]
    by_path = {m["mountPath"]: m["name"] for m in mounts}
    assert by_path["/workspace"] == "workspace"
    assert by_path["/home/agent"] == "workspace"


def test_job_pods_get_one_claim_volume(cluster, enforce_ns):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "claims-job"},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never",
               "containers": [{"name": "agent", "image": "registry.example/agent:1",
                               "volumeMounts": [{"name": "a", "mountPath": "/a"},
                                                {"name": "b", "mountPath": "/b"}]}],
               "volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "shared"}},
                           {"name": "b", "persistentVolumeClaim": {"claimName": "shared"}}]}}}}
    out = create(cluster, enforce_ns, job)
    assert out.returncode == 0, out.stderr
    pods = wait_until(lambda: cluster.items("pods", namespace=enforce_ns,
                                            selector="job-name=claims-job"),
                      90, "the Job's pod")
    claims = [v for v in pods[0]["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert len(claims) == 1


def test_warn_mode_admits_with_warnings(cluster, webhook):
    namespace = governed_namespace(cluster, "warn")
    try:
        def warned_dry_run():
            out = cluster.kubectl("create", "-n", namespace, "--dry-run=server", "-f", "-",
                                  input=json.dumps(pod("warned")), check=False)
            return out if "Warning:" in out.stderr else None

        out = wait_until(warned_dry_run, 60, "a warning from the warn-mode webhook")
        assert out.returncode == 0
        assert "spec.securityContext.fsGroup: must be set" in out.stderr
        for line in out.stderr.splitlines():
            if line.startswith("Warning: "):
                assert len(line) - len("Warning: ") < 120
        created = create(cluster, namespace, pod("warned"))
        assert created.returncode == 0, created.stderr
        stored = cluster.get("pod", "warned", namespace=namespace)
        assert "securityContext" not in stored["spec"]["containers"][0]
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_kube_system_untouched(cluster, webhook):
    """kube-system keeps its pods even with the governing labels set on it."""
    cluster.kubectl("label", "namespace", "kube-system", "--overwrite",
                    "mason.dev/policy=enforce", f"{SCOPE_LABEL}={RUN_ID}")
    name = f"untouched-{RUN_ID}"
    try:
        out = create(cluster, "kube-system", pod(name, spec_extra={"hostNetwork": True}))
        assert out.returncode == 0, out.stderr
        stored = cluster.get("pod", name, namespace="kube-system")
        assert "securityContext" not in stored["spec"]["containers"][0]
        assert stored["spec"]["hostNetwork"] is True
    finally:
        cluster.kubectl("delete", "pod", "-n", "kube-system", name, "--ignore-not-found",
                        "--wait=false", check=False)
        cluster.kubectl("label", "namespace", "kube-system", "mason.dev/policy-",
                        f"{SCOPE_LABEL}-", check=False)
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "e2e-kube-system", "operation": "CREATE",
                          "kind": {"group": "", "version": "v1", "kind": "Pod"},
                          "namespace": "kube-system", "userInfo": {"username": "e2e"},
                          "object": pod("direct")}}
    response = webhook.post("/validate/pods/enforce", review)["response"]
    assert response["uid"] == "e2e-kube-system"
    assert response["allowed"] is True


def agent_task(name, env):
    return {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name}, "spec": {"prompt": "Fix the failing test.", "env": env}}


def test_agenttask_blocked_env_denied(cluster, enforce_ns):
    out = create(cluster, enforce_ns, agent_task("blocked", [
        {"name": "AWS_SECRET_ACCESS_KEY", "secretRef": "aws-sm://prod/aws#secret"}]))
    assert out.returncode != 0
    assert "AWS_SECRET_ACCESS_KEY" in out.stderr
    assert "blocked pattern" in out.stderr


def test_agenttask_credential_literal_denied(cluster, enforce_ns):
    secret = "sk-ant-api03-" + "Q" * 40
    out = create(cluster, enforce_ns, agent_task("literal", [
        {"name": "ANTHROPIC_API_KEY", "value": secret}]))
    assert out.returncode != 0
    assert "secretRef" in out.stderr
    assert secret not in out.stderr


def test_agenttask_allowed_reference_admitted(cluster, enforce_ns):
    out = create(cluster, enforce_ns, agent_task("allowed", [
        {"name": "DB_PASSWORD", "secretRef": "aws-sm://prod/db#password"}]))
    assert out.returncode == 0, out.stderr


def test_approval_records_requesting_user(cluster, enforce_ns):
    out = create(cluster, enforce_ns, agent_task("approve-me", [{"name": "MODE", "value": "ci"}]))
    assert out.returncode == 0, out.stderr
    cluster.kubectl("annotate", "-n", enforce_ns, "agenttask/approve-me",
                    "mason.dev/approval=continue")
    stored = cluster.get("agenttask", "approve-me", namespace=enforce_ns)
    assert stored["metadata"]["annotations"]["mason.dev/approved-by"] == "mason-admin"


def test_metrics_and_health(webhook, enforce_ns):
    assert webhook.get("/healthz") == (200, "ok\n")
    assert webhook.get("/readyz") == (200, "ok\n")
    status, text = webhook.get("/metrics")
    assert status == 200
    assert 'mason_webhook_requests_total{endpoint="mutate_pods",operation="CREATE",decision="patched"}' in text
    assert 'decision="denied"' in text
    assert "mason_webhook_request_duration_seconds_bucket" in text


def test_oversized_body_rejected(webhook, tmp_path):
    body = tmp_path / "big.json"
    body.write_bytes(b"{" + b" " * (4 * 1024 * 1024) + b"}")
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "--cacert", str(webhook.workdir / "ca.crt"), "-X", "POST",
                          "--data-binary", f"@{body}", webhook.url("/validate/pods")],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout == "413"


def test_sigterm_drains_and_exits(tmp_path):
    """A second process: it serves, then stops cleanly on SIGTERM with exit status 0."""
    hook = Webhook(None, tmp_path)
    hook.start()
    try:
        assert hook.get("/readyz") == (200, "ok\n")
    finally:
        status = hook.stop()
    assert status == 0
    messages = [line["msg"] for line in hook.lines()]
    assert "stopped" in messages


def issuer_of_new_connection(port, cafile, review):
    """Sends one review on a new TLS connection; returns (HTTP status, issuer CN)."""
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("POST", "/validate/pods/enforce", body=json.dumps(review),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        issuer = dict(pair[0] for pair in conn.sock.getpeercert()["issuer"])["commonName"]
        return response.status, issuer
    finally:
        conn.close()


def test_certificate_files_replaced_without_failures(tmp_path):
    """New connections get the replaced certificate within 15 s and no request fails."""
    hook = Webhook(None, tmp_path)
    hook.start()
    renewed = tmp_path / "renewed"
    renewed.mkdir()
    make_certificates(renewed, ca_name="mason-webhook-e2e-renewed-ca")
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes((tmp_path / "ca.crt").read_bytes() + (renewed / "ca.crt").read_bytes())
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "rotation", "operation": "CREATE",
                          "kind": {"group": "", "version": "v1", "kind": "Pod"},
                          "namespace": "team", "userInfo": {"username": "e2e"},
                          "object": pod("rotation")}}
    failures, issuers = [], []
    replaced_at = None
    try:
        for i in range(2000):  # bounded: at most 2000 requests or about 25 s
            if i == 20:
                for name in ("tls.key", "tls.crt"):
                    os.replace(renewed / name, tmp_path / name)
                replaced_at = time.monotonic()
            try:
                status, issuer = issuer_of_new_connection(hook.port, str(bundle), review)
                if status != 200:
                    failures.append(status)
                issuers.append((time.monotonic(), issuer))
            except (OSError, http.client.HTTPException) as e:
                failures.append(repr(e))
            if replaced_at and issuers[-1][1] == "mason-webhook-e2e-renewed-ca":
                break
            if replaced_at and time.monotonic() - replaced_at > 25:
                break
            time.sleep(0.01)
    finally:
        assert hook.stop() == 0
    assert failures == []
    assert issuers[0][1] == "mason-webhook-e2e-ca"
    switched = [t for t, issuer in issuers if issuer == "mason-webhook-e2e-renewed-ca"]
    assert switched, "the replaced certificate was never served"
    assert switched[0] - replaced_at < 15
