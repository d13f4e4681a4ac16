"""End-to-end check that mason-webhook admits the operator's agent Jobs unchanged.

The operator already builds agent pods that meet the webhook's policy, so in an enforced
namespace the webhook must neither deny them nor patch them. The module starts its own
mason-webhook (registered as in test_webhook.py, scoped to this run's namespaces) and a
mason-operator limited to one enforced namespace.
"""

import base64
import json

import pytest

from conftest import wait_until
from test_operator import started_task
from test_webhook import governed_namespace, registered_webhook, wait_for_webhook


@pytest.fixture(scope="module")
def webhook(cluster, tmp_path_factory):
    yield from registered_webhook(cluster, tmp_path_factory, "webhook-operator")


@pytest.fixture
def enforce_ns(cluster, webhook):
    namespace = governed_namespace(cluster, "enforce")
    wait_for_webhook(cluster, namespace)
    yield namespace
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def review(uid, namespace, pod):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "operation": "CREATE",
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": namespace,
                        "userInfo": {"username": "system:serviceaccount:kube-system:job-controller"},
                        "object": pod}}


def pod_from_template(job, namespace):
    """Returns the pod that the Job controller creates from the Job's template."""
    template = job["spec"]["template"]
    metadata = dict(template.get("metadata", {}), namespace=namespace,
                    generateName=job["metadata"]["name"] + "-")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


def admissions(webhook, namespace, endpoint):
    """Returns the webhook's log lines for real (not dry-run) requests in namespace."""
    return [line for line in webhook.lines()
            if line.get("namespace") == namespace and line.get("endpoint") == endpoint
            and line.get("dry_run") is False]


def test_agent_job_admitted_unchanged(cluster, enforce_ns, webhook, operator_factory):
    operator_factory(namespaces=[enforce_ns])
    job, pod_name = started_task(cluster, enforce_ns, "hardened-agent")
    template = job["spec"]["template"]["spec"]
    stored = cluster.get("pod", pod_name, namespace=enforce_ns)["spec"]

    assert stored["securityContext"] == template["securityContext"]
    assert stored["volumes"] == template["volumes"]
    assert len(stored["containers"]) == len(template["containers"])
    for got, expected in zip(stored["containers"], template["containers"]):
        assert got["securityContext"] == expected["securityContext"]
        assert got["volumeMounts"] == expected["volumeMounts"]
    for got, expected in zip(stored.get("initContainers", []),
                             template.get("initContainers", [])):
        assert got["securityContext"] == expected["securityContext"]

    # The webhook logged one mutation without a patch and one allowed check for the pod.
    mutations = wait_until(lambda: [l for l in admissions(webhook, enforce_ns, "mutate_pods")
                                    if l.get("name", "").startswith(job["metadata"]["name"])],
                           30, "the webhook's log of the agent pod's mutation")
    assert [l["decision"] for l in mutations] == ["allowed"]
    checks = [l for l in admissions(webhook, enforce_ns, "validate_pods")
              if l.get("name", "").startswith(job["metadata"]["name"])]
    assert [l["decision"] for l in checks] == ["allowed"]
    assert [l["mode"] for l in checks] == ["enforce"]

    response = webhook.post("/mutate/pods", review("agent-mutate", enforce_ns,
                                                    pod_from_template(job, enforce_ns)))["response"]
    assert response["uid"] == "agent-mutate"
    assert response["allowed"] is True
    patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    assert patch == []

    stored_pod = cluster.get("pod", pod_name, namespace=enforce_ns)
    response = webhook.post("/validate/pods/enforce",
                            review("agent-validate", enforce_ns, stored_pod))["response"]
    assert response["uid"] == "agent-validate"
    assert response["allowed"] is True
    assert "warnings" not in response
