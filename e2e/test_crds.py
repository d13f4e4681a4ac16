"""End-to-end checks of the AgentTask and AgentSession CRDs on a real API server.

The API server itself must reject invalid AgentTasks with readable messages, apply the
schema defaults and serve descriptions to `kubectl explain`, with no operator or webhook
running. The chart checks render charts/mason with helm and compare it with crds/ and
config/rbac/.

Environment: KUBECONFIG (a cluster from `make cluster-up`) and KUBECTL (path of kubectl);
HELM (path of helm) for the chart checks, else the helm beside KUBECTL. Each test is skipped
with the reason when what it needs is unset.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRD_FILES = [os.path.join(REPO, "crds", name) for name in ("agenttask.yaml", "agentsession.yaml")]
CRD_NAMES = ["agenttasks.mason.dev", "agentsessions.mason.dev"]
NAMESPACE = "default"
TEST_LABEL = "mason.dev/test=crds"
TIMEOUT = 60


def load_yaml_documents(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def crd_schema(path):
    return load_yaml_documents(path)[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def schema_fields(schema, path):
    """Yield (dotted path, schema) for every property below schema, depth first."""
    for name, sub in schema.get("properties", {}).items():
        field = f"{path}.{name}"
        yield field, sub
        yield from schema_fields(sub, field)
        if "items" in sub:
            yield f"{field}[]", sub["items"]
            yield from schema_fields(sub["items"], field)
        if isinstance(sub.get("additionalProperties"), dict):
            yield f"{field}{{}}", sub["additionalProperties"]


@pytest.fixture(scope="module")
def kubectl_env():
    kubeconfig = os.environ.get("KUBECONFIG")
    kubectl = os.environ.get("KUBECTL")
    if not kubeconfig or not kubectl:
        pytest.skip("KUBECONFIG and KUBECTL must be set (run `make cluster-up` first)")
    if not os.path.exists(kubeconfig):
        pytest.skip(f"KUBECONFIG {kubeconfig} does not exist (run `make cluster-up` first)")
    return kubectl, kubeconfig


def run_kubectl(env, *args, stdin=None):
    kubectl, kubeconfig = env
    return subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def check_kubectl(env, *args, stdin=None):
    result = run_kubectl(env, *args, stdin=stdin)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def cluster(kubectl_env):
    """Install the CRDs with server-side apply and wait until both are Established."""
    for path in CRD_FILES:
        check_kubectl(kubectl_env, "apply", "--server-side", "--force-conflicts",
                      "--field-manager=mason-test-crds", "-f", path)
    check_kubectl(kubectl_env, "wait", "--for=condition=Established", "--timeout=30s",
                  *[f"crd/{name}" for name in CRD_NAMES])
    yield kubectl_env
    run_kubectl(kubectl_env, "delete", "agenttasks,agentsessions", "-n", NAMESPACE,
                "-l", TEST_LABEL, "--wait=false")


def agenttask(spec, name=None):
    return {
        "apiVersion": "mason.dev/v1alpha1",
        "kind": "AgentTask",
        "metadata": {
            "name": name or f"test-crds-{uuid.uuid4().hex[:8]}",
            "namespace": NAMESPACE,
            "labels": {"mason.dev/test": "crds"},
        },
        "spec": spec,
    }


def create_dry_run(env, obj):
    return run_kubectl(env, "create", "--dry-run=server", "-o", "json", "-f", "-",
                       stdin=json.dumps(obj))


def test_crds_established_and_structural(cluster):
    for name in CRD_NAMES:
        crd = json.loads(check_kubectl(cluster, "get", "crd", name, "-o", "json"))
        conditions = {c["type"]: c for c in crd["status"].get("conditions", [])}
        assert conditions["Established"]["status"] == "True"
        assert conditions["NamesAccepted"]["status"] == "True"
        assert "NonStructuralSchema" not in conditions, conditions["NonStructuralSchema"]


def test_crd_names_and_categories(cluster):
    resources = check_kubectl(cluster, "api-resources", "--api-group=mason.dev", "-o", "wide")
    assert "agenttasks" in resources
    assert "agentsessions" in resources
    for line in resources.splitlines()[1:]:
        assert "mason" in line.split()[-1], f"category mason missing: {line}"
    check_kubectl(cluster, "get", "at,as", "-n", NAMESPACE)
    check_kubectl(cluster, "get", "mason", "-n", NAMESPACE)


INVALID_TASKS = [
    ("no prompt", {"engine": "codex"}, ["spec.prompt: Required value"]),
    ("empty prompt", {"prompt": ""}, ["spec.prompt", "at least 1 chars long"]),
    ("unknown persistence", {"prompt": "x", "session": {"persistence": "tmpfs"}},
     ['spec.session.persistence: Unsupported value: "tmpfs"',
      '"none", "shared-pvc", "per-taskrun-pvc"']),
    ("unknown engine", {"prompt": "x", "engine": "gpt"},
     ['spec.engine: Unsupported value: "gpt"']),
    ("value and secretRef",
     {"prompt": "x", "env": [{"name": "TOKEN", "value": "a", "secretRef": "k8s://s/k"}]},
     ["spec.env[0]", "env TOKEN: set exactly one of value or secretRef"]),
    ("neither value nor secretRef", {"prompt": "x", "env": [{"name": "TOKEN"}]},
     ["env TOKEN: set exactly one of value or secretRef"]),
    ("secretRef without scheme", {"prompt": "x", "env": [{"name": "T", "secretRef": "s/k"}]},
     ["spec.env[0].secretRef", "must be a URI with a scheme"]),
    ("duplicate env name",
     {"prompt": "x", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
     ["spec.env[1]: Duplicate value"]),
    ("continuations without session", {"prompt": "x", "limits": {"maxContinuations": 1}},
     ["spec.limits.maxContinuations", "needs session.persistence"]),
    ("same branch and base",
     {"prompt": "x", "repository": {"url": "https://git.example/r.git", "branch": "main",
                                    "baseBranch": "main"}},
     ["spec.repository.branch", "must differ from repository.baseBranch"]),
    ("unsupported repository scheme", {"prompt": "x", "repository": {"url": "ftp://h/r"}},
     ["spec.repository.url", "must be an https://"]),
    ("retries above 10", {"prompt": "x", "limits": {"retries": 11}},
     ["spec.limits.retries", "less than or equal to 10"]),
    ("size without per-taskrun-pvc",
     {"prompt": "x", "session": {"persistence": "shared-pvc", "size": "1Gi"}},
     ["spec.session", "need persistence per-taskrun-pvc"]),
    ("prompt too long", {"prompt": "x" * 262145}, ["spec.prompt", "262144"]),
]


@pytest.mark.parametrize("spec,expected", [(c[1], c[2]) for c in INVALID_TASKS],
                         ids=[c[0] for c in INVALID_TASKS])
def test_invalid_agenttask_rejected(cluster, spec, expected):
    result = create_dry_run(cluster, agenttask(spec))
    assert result.returncode != 0, f"accepted: {json.dumps(spec)[:200]}"
    assert "is invalid" in result.stderr
    for phrase in expected:
        assert phrase in result.stderr
    assert len(result.stderr) < 2000, "error message is too long to read"


def test_valid_agenttask_accepted(cluster):
    spec = {
        "prompt": "line one\nline \"two\" with 'quotes' and unicode \u00e9\u4e2d",
        "engine": "codex",
        "repository": {"url": "git@github.com:example/repo.git", "branch": "mason/x",
                       "baseBranch": "main"},
        "env": [{"name": "A", "value": ""},
                {"name": "B", "secretRef": "aws-sm://prod/db#password"},
                {"name": "C", "secretRef": "vault://secret/ci#token"}],
        "limits": {"maxContinuations": 2, "maxCostUSD": 2.5, "maxTurns": 40},
        "session": {"persistence": "per-taskrun-pvc", "size": "10Gi"},
        "resources": {"requests": {"cpu": 1, "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "agents",
                         "effect": "NoSchedule"}],
    }
    result = create_dry_run(cluster, agenttask(spec))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["spec"]["prompt"] == spec["prompt"]


def test_defaults_applied_by_api_server(cluster):
    obj = agenttask({"prompt": "fix the flaky test"})
    check_kubectl(cluster, "create", "-f", "-", stdin=json.dumps(obj))
    name = obj["metadata"]["name"]
    stored = json.loads(check_kubectl(cluster, "get", "agenttask", name, "-n", NAMESPACE,
                                      "-o", "json"))
    spec = stored["spec"]
    assert spec["engine"] == "claude-code"
    assert spec["limits"]["maxDurationSeconds"] == 3600
    assert spec["limits"]["retries"] == 0
    assert spec["session"]["persistence"] == "none"
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert "maxContinuations" not in spec["limits"]
    check_kubectl(cluster, "delete", "agenttask", name, "-n", NAMESPACE)


def test_persistence_immutable(cluster):
    obj = agenttask({"prompt": "x"})
    name = obj["metadata"]["name"]
    check_kubectl(cluster, "create", "-f", "-", stdin=json.dumps(obj))
    patch = json.dumps({"spec": {"session": {"persistence": "shared-pvc"}}})
    result = run_kubectl(cluster, "patch", "agenttask", name, "-n", NAMESPACE, "--type=merge",
                         "-p", patch)
    assert result.returncode != 0
    assert "session.persistence is immutable" in result.stderr
    check_kubectl(cluster, "delete", "agenttask", name, "-n", NAMESPACE)


def test_status_subresource_and_columns(cluster):
    obj = agenttask({"prompt": "x"})
    name = obj["metadata"]["name"]
    check_kubectl(cluster, "create", "-f", "-", stdin=json.dumps(obj))
    # With its default 17 digits, jansson prints the double 0.42 as 0.41999999999999998.
    # The Cost column must still show 0.42.
    status = {"status": {
        "phase": "Running", "reason": "JobCreated",
        "usage": {"turns": 12, "toolCalls": 30, "costUSD": "COST"},
        "score": 0.83,
        "runs": [{"index": 0, "job": f"{name}-0", "outcome": "Failed", "reason": "OOMKilled"},
                 {"index": 1, "job": f"{name}-1", "trigger": "Retry", "resumed": True}],
    }}
    body = json.dumps(status).replace('"COST"', "0.41999999999999998")
    check_kubectl(cluster, "patch", "agenttask", name, "-n", NAMESPACE, "--subresource=status",
                  "--type=merge", "-p", body)
    # A status written through the main resource is ignored.
    check_kubectl(cluster, "patch", "agenttask", name, "-n", NAMESPACE, "--type=merge",
                  "-p", json.dumps({"status": {"phase": "Failed"}}))
    table = check_kubectl(cluster, "get", "agenttask", name, "-n", NAMESPACE, "-o", "wide")
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "ENGINE", "TURNS", "COST", "SCORE", "AGE",
                              "REASON", "JOB"]
    cells = row.split()
    assert cells[1:6] == ["Running", "claude-code", "12", "0.42", "0.83"]
    assert cells[7:] == ["JobCreated", f"{name}-1"]
    check_kubectl(cluster, "delete", "agenttask", name, "-n", NAMESPACE)


def test_agentsession_validation(cluster):
    session = {
        "apiVersion": "mason.dev/v1alpha1",
        "kind": "AgentSession",
        "metadata": {"name": "test-crds-session", "namespace": NAMESPACE},
        "spec": {"taskRef": {"name": "t"}, "engine": "claude-code", "backend": "shared-pvc",
                 "claimName": "mason-sessions"},
    }
    result = create_dry_run(cluster, session)
    assert result.returncode != 0
    assert "spec.subPath: Required value: backend shared-pvc needs subPath" in result.stderr

    session["spec"]["subPath"] = "../other-task"
    result = create_dry_run(cluster, session)
    assert result.returncode != 0
    assert "must be a relative path without '..'" in result.stderr

    session["spec"]["subPath"] = "default/fix-flaky-test"
    result = create_dry_run(cluster, session)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("example", ["agenttask.yaml", "agenttask-codex.yaml",
                                     "agenttask-secrets.yaml"])
def test_examples_valid(cluster, example):
    path = os.path.join(REPO, "examples", example)
    # apply, not create: the demo may have created the same task for real already.
    check_kubectl(cluster, "apply", "--dry-run=server", "-f", path)


def spec_fields(kind_file):
    schema = crd_schema(kind_file)["properties"]["spec"]
    for field, _ in schema_fields(schema, "spec"):
        if not field.endswith(("[]", "{}")):
            yield field


def test_every_schema_field_has_description():
    missing = []
    for path in CRD_FILES:
        for field, sub in schema_fields(crd_schema(path), os.path.basename(path)):
            if not field.endswith(".metadata") and not sub.get("description"):
                missing.append(field)
    assert missing == []


@pytest.mark.parametrize("resource,kind_file", [("agenttask", CRD_FILES[0]),
                                                ("agentsession", CRD_FILES[1])])
def test_explain_describes_every_spec_field(cluster, resource, kind_file):
    for field in spec_fields(kind_file):
        out = check_kubectl(cluster, "explain", f"{resource}.{field}")
        description = out.split("DESCRIPTION:", 1)[1].split("FIELDS:", 1)[0].strip()
        assert description, f"kubectl explain {resource}.{field} has no description"


def test_explain_limits_teaches_units_and_defaults(cluster):
    out = check_kubectl(cluster, "explain", "agenttask.spec.limits")
    assert "Default 3600" in out
    assert "US dollars" in out
    assert "DeadlineExceeded" in out
    recursive = check_kubectl(cluster, "explain", "agenttask.spec", "--recursive")
    for field in ("prompt", "persistence", "maxDurationSeconds", "secretRef", "baseBranch"):
        assert field in recursive


# Chart checks: no cluster needed, only helm.

@pytest.fixture(scope="module")
def helm():
    path = os.environ.get("HELM")
    if not path and os.environ.get("KUBECTL"):
        beside = os.path.join(os.path.dirname(os.environ["KUBECTL"]), "helm")
        path = beside if os.path.exists(beside) else None
    path = path or shutil.which("helm")
    if not path:
        pytest.skip("helm not found: set HELM or build the toolchain (make toolchain)")
    return path


def helm_template(helm, *args):
    result = subprocess.run(
        [helm, "template", "mason", os.path.join(REPO, "charts", "mason"),
         "--namespace", "mason-system", *args],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_chart_lints(helm):
    result = subprocess.run([helm, "lint", os.path.join(REPO, "charts", "mason")],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_crds_match_repository(helm):
    rendered = {d["metadata"]["name"]: d for d in helm_template(helm, "--include-crds")
                if d["kind"] == "CustomResourceDefinition"}
    for path in CRD_FILES:
        crd = load_yaml_documents(path)[0]
        assert rendered[crd["metadata"]["name"]] == crd


def rbac_rules(docs):
    """Map (kind, name without the release prefix) of each role to its rules."""
    rules = {}
    for doc in docs:
        if doc["kind"] in ("ClusterRole", "Role"):
            suffix = doc["metadata"]["name"].removeprefix("mason-operator")
            rules[(doc["kind"], suffix)] = doc["rules"]
    return rules


def test_chart_rbac_matches_config(helm):
    config = []
    rbac_dir = os.path.join(REPO, "config", "rbac")
    for name in sorted(os.listdir(rbac_dir)):
        if name != "kustomization.yaml":
            config.extend(load_yaml_documents(os.path.join(rbac_dir, name)))
    assert rbac_rules(helm_template(helm)) == rbac_rules(config)


def test_chart_pods_are_hardened(helm):
    for doc in helm_template(helm):
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "limits" in container["resources"]
