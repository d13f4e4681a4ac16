"""End-to-end checks of session persistence and human-approved continuation:
a run that ends with Claude Code's error_max_turns waits in AwaitingApproval,
`kubectl annotate` continues it with --resume and the captured session id on
the same claim, or stops it; infrastructure failures are retried."""

import json
import signal
import uuid

import pytest

from conftest import wait_until
from test_operator import agent_pod, jobs_of, started_task, task_status, wait_phase
from test_supervision import final_result, play, stream_lines

MAX_TURNS = "claude-max-turns.jsonl"


@pytest.fixture
def namespace(cluster):
    return cluster.namespace("cont")


@pytest.fixture
def volumes(cluster):
    """Static PersistentVolumes for session claims to bind to; removed afterwards."""
    names = []

    def make(count, mode):
        for _ in range(count):
            name = f"e2e-pv-{uuid.uuid4().hex[:8]}"
            cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                           "metadata": {"name": name},
                           "spec": {"capacity": {"storage": "10Gi"}, "accessModes": [mode],
                                    "persistentVolumeReclaimPolicy": "Retain",
                                    "hostPath": {"path": f"/tmp/{name}"}}})
            names.append(name)
    yield make
    for name in names:
        cluster.kubectl("delete", "pv", name, "--wait=false", check=False)


def run_job(cluster, namespace, name, index):
    def find():
        runs = task_status(cluster, namespace, name).get("runs", [])
        return runs[index]["job"] if len(runs) > index else None
    return wait_until(find, 90, f"run {index} of {name}")


def annotate(cluster, namespace, name, decision, user):
    cluster.kubectl("annotate", "--overwrite", "-n", namespace, f"agenttask/{name}",
                    f"mason.dev/approval={decision}", f"mason.dev/approved-by={user}")


def session_task(name, namespace, persistence, **limits):
    return {"session": {"persistence": persistence},
            "limits": {"maxContinuations": 2, **limits}}


def test_turn_limit_continue_then_stop(cluster, namespace, operator_factory, kwok, volumes):
    volumes(1, "ReadWriteOnce")
    op = operator_factory(namespaces=[namespace])
    job, pod = started_task(cluster, namespace, "long-job",
                            **session_task("long-job", namespace, "per-taskrun-pvc"))
    # Without the webhook, a value that is no decision on a running task is removed with a
    # warning that names both what is wrong with it and when a decision counts.
    annotate(cluster, namespace, "long-job", "maybe", "carol@example.com")
    early = wait_until(lambda: [
        e for e in cluster.items("events", namespace=namespace)
        if e["involvedObject"]["name"] == "long-job" and e["reason"] == "ApprovalIgnored"], 60,
        "the ApprovalIgnored event")
    assert "only continue or stop are decisions" in early[0]["message"]
    play(kwok, namespace, pod, stream_lines(MAX_TURNS))
    kwok.finish(namespace, pod, 1)
    status = wait_phase(cluster, namespace, "long-job", "AwaitingApproval")
    session_id = final_result(MAX_TURNS)["session_id"]
    assert status["approval"]["continuation"] == 1
    assert status["sessionID"] == session_id
    assert "decision" not in status["approval"]

    op.kill(signal.SIGKILL)
    op = operator_factory(namespaces=[namespace])
    wait_until(lambda: op.log_lines(), 30, "the restarted operator to log")
    assert task_status(cluster, namespace, "long-job")["phase"] == "AwaitingApproval"

    annotate(cluster, namespace, "long-job", "continue", "alice@example.com")
    second = run_job(cluster, namespace, "long-job", 1)
    job = cluster.get("job", second, namespace=namespace)
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert f"--resume {session_id}" in script
    status = task_status(cluster, namespace, "long-job")
    assert status["runs"][1]["trigger"] == "Continuation"
    assert status["runs"][1]["resumed"] is True
    assert status["continuations"] == 1
    assert status["approval"]["decision"] == "Continue"
    assert status["approval"]["decidedBy"] == "alice@example.com"
    claims = [v["persistentVolumeClaim"]["claimName"]
              for v in job["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert len(claims) == 1
    assert len(cluster.items("persistentvolumeclaims", namespace=namespace)) == 1
    annotations = cluster.get("agenttask", "long-job", namespace=namespace)["metadata"].get(
        "annotations", {})
    assert "mason.dev/approval" not in annotations

    pod = agent_pod(cluster, namespace, second)
    play(kwok, namespace, pod, stream_lines(MAX_TURNS))
    kwok.finish(namespace, pod, 1)
    status = wait_phase(cluster, namespace, "long-job", "AwaitingApproval")
    assert status["approval"]["continuation"] == 2

    # A value that is no decision is removed with a warning, and the request still waits.
    annotate(cluster, namespace, "long-job", "maybe", "carol@example.com")
    invalid = wait_until(lambda: [
        e for e in cluster.items("events", namespace=namespace)
        if e["involvedObject"]["name"] == "long-job" and e["reason"] == "ApprovalInvalid"], 60,
        "the ApprovalInvalid event")
    assert invalid[0]["type"] == "Warning"
    assert "mason.dev/approval=maybe" in invalid[0]["message"]
    assert "use continue or stop" in invalid[0]["message"]
    wait_until(lambda: "mason.dev/approval" not in cluster.get(
        "agenttask", "long-job", namespace=namespace)["metadata"].get("annotations", {}), 60,
        "the invalid decision to be removed")
    assert task_status(cluster, namespace, "long-job")["phase"] == "AwaitingApproval"

    annotate(cluster, namespace, "long-job", "stop", "bob@example.com")
    status = wait_phase(cluster, namespace, "long-job", "Failed")
    assert status["reason"] == "ContinuationDeclined"
    assert "bob@example.com" in status["message"]
    assert status["approval"]["decidedBy"] == "bob@example.com"


def test_turn_limit_without_session_fails(cluster, namespace, operator_factory, kwok):
    operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "no-session")
    play(kwok, namespace, pod, stream_lines(MAX_TURNS))
    kwok.finish(namespace, pod, 1)
    status = wait_phase(cluster, namespace, "no-session", "Failed")
    assert status["reason"] == "TurnLimitReached"
    assert "session.persistence" in status["message"]


def test_shared_pvc_gives_each_task_its_directory(cluster, namespace, operator_factory, volumes):
    volumes(1, "ReadWriteMany")
    operator_factory(namespaces=[namespace])
    sub_paths = []
    for name in ("shared-a", "shared-b"):
        job, _ = started_task(cluster, namespace, name,
                              **session_task(name, namespace, "shared-pvc"))
        pod_spec = job["spec"]["template"]["spec"]
        claims = [v for v in pod_spec["volumes"] if "persistentVolumeClaim" in v]
        assert len(claims) == 1
        assert claims[0]["persistentVolumeClaim"]["claimName"] == "mason-sessions"
        mounts = [m for m in pod_spec["containers"][0]["volumeMounts"] if m["name"] == "session"]
        sub_paths.append(mounts[0]["subPath"])
    assert sub_paths[0] != sub_paths[1]
    claims = cluster.items("persistentvolumeclaims", namespace=namespace)
    assert [c["metadata"]["name"] for c in claims] == ["mason-sessions"]
    assert claims[0]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_oom_killed_run_is_retried(cluster, namespace, operator_factory, kwok, volumes):
    volumes(1, "ReadWriteOnce")
    operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "oom",
                          session={"persistence": "per-taskrun-pvc"}, limits={"retries": 1})
    kwok.finish(namespace, pod, 137, "OOMKilled")
    second = run_job(cluster, namespace, "oom", 1)
    status = task_status(cluster, namespace, "oom")
    assert status["runs"][0]["reason"] == "OOMKilled"
    assert status["runs"][1]["trigger"] == "Retry"
    assert status["retries"] == 1
    pod = agent_pod(cluster, namespace, second)
    kwok.finish(namespace, pod, 137, "OOMKilled")
    status = wait_phase(cluster, namespace, "oom", "Failed")
    assert status["reason"] == "OOMKilled"
    assert len(status["runs"]) == 2
    assert len(cluster.items("persistentvolumeclaims", namespace=namespace)) == 1
