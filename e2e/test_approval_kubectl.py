"""End-to-end checks of continuation approvals decided with kubectl while mason-webhook
records who decided.

mason-webhook is registered as in test_webhook.py and governs only this module's
namespaces, which carry no mason.dev/policy label, so only its AgentTask webhooks apply.
Its mutating endpoint writes the requesting Kubernetes user into mason.dev/approved-by,
and mason-operator copies that user into status.approval.decidedBy. kubectl impersonates
the approvers (--as) with the admin kubeconfig.
"""

import json
import time

import pytest

from conftest import DEFAULT_CONFIG, wait_until
from test_continuation import MAX_TURNS, run_job, volumes  # noqa: F401 (volumes is a fixture)
from test_operator import agent_pod, started_task, task_status, wait_phase
from test_supervision import final_result, play, stream_lines
from test_webhook import RUN_ID, SCOPE_LABEL, registered_webhook

APPROVAL = "mason.dev/approval"
APPROVED_BY = "mason.dev/approved-by"


@pytest.fixture(scope="module")
def webhook(cluster, tmp_path_factory):
    yield from registered_webhook(cluster, tmp_path_factory, "webhook-approval")


def probe_task(name):
    return {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name, "annotations": {APPROVAL: "continue"}},
            "spec": {"prompt": "Probe the webhook."}}


@pytest.fixture
def namespace(cluster, webhook):
    """A namespace that the webhook governs, once the API server calls the webhook for it."""
    name = cluster.namespace(prefix="approval", labels={SCOPE_LABEL: RUN_ID})

    def recorded():
        out = cluster.kubectl("create", "-n", name, "--dry-run=server", "-o", "json", "-f", "-",
                              input=json.dumps(probe_task("probe")), check=False)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)["metadata"]["annotations"].get(APPROVED_BY)
    wait_until(recorded, 60, "the webhook to record the approver of a dry-run AgentTask")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def awaiting_task(cluster, namespace, name, kwok):
    """Starts a per-taskrun-pvc task and plays a run that ends at the turn limit."""
    _, pod = started_task(cluster, namespace, name, session={"persistence": "per-taskrun-pvc"},
                          limits={"maxContinuations": 2})
    play(kwok, namespace, pod, stream_lines(MAX_TURNS))
    kwok.finish(namespace, pod, 1)
    return wait_phase(cluster, namespace, name, "AwaitingApproval")


def annotate_as(cluster, namespace, name, user, *annotations, check=True):
    return cluster.kubectl("annotate", "--overwrite", "-n", namespace, f"agenttask/{name}",
                           *annotations, f"--as={user}", "--as-group=system:masters",
                           check=check)


def test_kubectl_approval_records_user(cluster, namespace, operator_factory, kwok, volumes):
    volumes(1, "ReadWriteOnce")
    operator_factory(namespaces=[namespace])
    status = awaiting_task(cluster, namespace, "approve-kubectl", kwok)
    assert status["approval"]["continuation"] == 1
    assert "decision" not in status["approval"]

    # alice also sets approved-by to another user, and the webhook replaces it with hers.
    annotate_as(cluster, namespace, "approve-kubectl", "alice@example.com",
                f"{APPROVAL}=continue", f"{APPROVED_BY}=mallory@example.com")
    second = run_job(cluster, namespace, "approve-kubectl", 1)
    status = task_status(cluster, namespace, "approve-kubectl")
    assert status["approval"]["decision"] == "Continue"
    assert status["approval"]["decidedBy"] == "alice@example.com"
    assert status["runs"][1]["trigger"] == "Continuation"
    approved = wait_until(lambda: [
        e for e in cluster.items("events", namespace=namespace)
        if e["involvedObject"]["name"] == "approve-kubectl"
        and e["reason"] == "ContinuationApproved"], 30, "the ContinuationApproved event")
    assert approved[0]["message"] == "continuation 1 approved by alice@example.com"
    job = cluster.get("job", second, namespace=namespace)
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert f"--resume {final_result(MAX_TURNS)['session_id']}" in script

    pod = agent_pod(cluster, namespace, second)
    play(kwok, namespace, pod, stream_lines(MAX_TURNS))
    kwok.finish(namespace, pod, 1)
    status = wait_phase(cluster, namespace, "approve-kubectl", "AwaitingApproval")
    assert status["approval"]["continuation"] == 2
    assert "decision" not in status["approval"]
    annotate_as(cluster, namespace, "approve-kubectl", "bob@example.com", f"{APPROVAL}=stop")
    status = wait_phase(cluster, namespace, "approve-kubectl", "Failed")
    assert status["reason"] == "ContinuationDeclined"
    assert status["approval"]["decision"] == "Stop"
    assert status["approval"]["decidedBy"] == "bob@example.com"
    assert "bob@example.com" in status["message"]
    # Both decisions were acted on, so neither was reported as ignored.
    assert not ignored_approvals(cluster, namespace, "approve-kubectl")


def test_unanswered_request_expires(cluster, namespace, operator_factory, kwok, volumes):
    volumes(1, "ReadWriteOnce")
    operator_factory(DEFAULT_CONFIG + "approvals:\n  timeout_minutes: 1\n",
                     namespaces=[namespace])
    status = awaiting_task(cluster, namespace, "left-waiting", kwok)
    waiting_since = time.monotonic()
    assert "expiresAt" in status["approval"]

    status = wait_phase(cluster, namespace, "left-waiting", "Failed", timeout=150)
    waited = time.monotonic() - waiting_since
    assert status["reason"] == "ApprovalExpired"
    assert status["approval"]["decision"] == "Expired"
    assert status["approval"]["decidedBy"] == "nobody"
    assert len(status["runs"]) == 1
    assert status.get("continuations", 0) == 0
    assert waited >= 50, f"the request expired after {waited:.0f} s, before its minute was up"


def ignored_approvals(cluster, namespace, name):
    return [e for e in cluster.items("events", namespace=namespace)
            if e["involvedObject"]["name"] == name and e["reason"] == "ApprovalIgnored"]


def annotations_of(cluster, namespace, name):
    obj = cluster.get("agenttask", name, namespace=namespace)
    return obj["metadata"].get("annotations", {})


def wait_ignored(cluster, namespace, name, count):
    """Waits until the operator removed the decision and recorded its count-th warning."""
    wait_until(lambda: APPROVAL not in annotations_of(cluster, namespace, name)
               and len(ignored_approvals(cluster, namespace, name)) >= count, 60,
               f"the operator to remove the stray decision on {name}")
    return ignored_approvals(cluster, namespace, name)


def test_decision_outside_approval_is_removed(cluster, namespace, operator_factory, kwok):
    operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "not-waiting")
    annotate_as(cluster, namespace, "not-waiting", "alice@example.com", f"{APPROVAL}=continue")
    events = wait_ignored(cluster, namespace, "not-waiting", 1)
    assert events[0]["type"] == "Warning"
    assert f"{APPROVAL}=continue removed without effect" in events[0]["message"]
    assert "AwaitingApproval" in events[0]["message"]
    assert "only continue or stop" not in events[0]["message"]
    assert APPROVED_BY not in annotations_of(cluster, namespace, "not-waiting")
    assert task_status(cluster, namespace, "not-waiting")["phase"] in ("Pending", "Running")

    # The run goes on, and a decision on the finished task is removed the same way.
    play(kwok, namespace, pod, stream_lines("claude-success.jsonl"))
    kwok.finish(namespace, pod, 0)
    wait_phase(cluster, namespace, "not-waiting", "Succeeded")
    annotate_as(cluster, namespace, "not-waiting", "bob@example.com", f"{APPROVAL}=stop")
    events = wait_ignored(cluster, namespace, "not-waiting", 2)
    assert any("the task is Succeeded" in e["message"] for e in events)
    status = task_status(cluster, namespace, "not-waiting")
    assert status["phase"] == "Succeeded"
    assert "approval" not in status


def test_invalid_decision_is_denied(cluster, namespace, webhook):
    cluster.apply({**probe_task("bad-decision"), "metadata": {"name": "bad-decision"}},
                  "-n", namespace)
    out = annotate_as(cluster, namespace, "bad-decision", "alice@example.com",
                      f"{APPROVAL}=maybe", check=False)
    assert out.returncode != 0
    assert 'annotation mason.dev/approval: invalid value "maybe": use continue or stop' in out.stderr
    obj = cluster.get("agenttask", "bad-decision", namespace=namespace)
    assert APPROVAL not in obj["metadata"].get("annotations", {})
    # The webhook's log names the reason too.
    denied = [l for l in webhook.lines() if l.get("name") == "bad-decision"
              and l.get("decision") == "denied"]
    assert denied
    assert denied[-1]["msg"] == ('admission denied: annotation mason.dev/approval: '
                                 'invalid value "maybe": use continue or stop')
