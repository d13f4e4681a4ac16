"""End to end: a continuation request goes to Slack (a local stand-in that
speaks the Web API), and signed button clicks sent to the operator's
interactivity endpoint decide it, as Slack itself would send them."""

import base64
import time

import pytest

from conftest import DEFAULT_CONFIG, free_port, wait_until
from slack_standin import DEFAULT_CHANNEL, DEFAULT_TOKEN, SlackStandin, click_payload, send_click
from test_continuation import MAX_TURNS, run_job, session_task
from test_operator import agent_pod, started_task, task_status, wait_phase
from test_supervision import final_result, play, stream_lines

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVER = "U0APPROVER1"


@pytest.fixture
def slack():
    with SlackStandin() as standin:
        yield standin


@pytest.fixture
def setup(cluster, operator_factory, slack, kwok, tmp_path):
    ns = cluster.namespace("slack")
    data = {"bot_token": DEFAULT_TOKEN, "signing_secret": SIGNING_SECRET}
    cluster.apply({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "mason-slack", "namespace": ns},
                   "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})
    for i in range(2):
        cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": f"{ns}-{i}"},
                       "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                                "hostPath": {"path": f"/tmp/{ns}-{i}"}}})
    port = free_port()
    config = DEFAULT_CONFIG.replace("listen: 127.0.0.1:0", f"listen: 127.0.0.1:{port}") + f"""\
approvals:
  timeout_minutes: 60
  slack:
    api_base_url: {slack.url}
    channel: {DEFAULT_CHANNEL}
    bot_token_secret: k8s://mason-slack/bot_token
    signing_secret: k8s://mason-slack/signing_secret
    approvers: [{APPROVER}]
"""
    operator_factory(config, namespaces=[ns], args=["--leader-election-namespace", ns])
    yield ns, f"http://127.0.0.1:{port}/slack/interactions"
    for i in range(2):
        cluster.kubectl("delete", "pv", f"{ns}-{i}", "--wait=false", check=False)


def awaiting(cluster, kwok, ns, name, job_index):
    job = run_job(cluster, ns, name, job_index)
    pod = agent_pod(cluster, ns, job)
    play(kwok, ns, pod, stream_lines(MAX_TURNS))
    kwok.finish(ns, pod, 1)
    return wait_phase(cluster, ns, name, "AwaitingApproval")


def test_slack_click_continues_and_stops(cluster, kwok, slack, setup):
    ns, url = setup
    cluster.apply({"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
                   "metadata": {"name": "slacked", "namespace": ns},
                   "spec": {"prompt": "Refactor the billing module.",
                            **session_task("slacked", ns, "per-taskrun-pvc")}})
    status = awaiting(cluster, kwok, ns, "slacked", 0)
    slack.wait_for("chat.postMessage")
    message = slack.posted()[0]
    assert status["approval"]["slackChannel"] == DEFAULT_CHANNEL
    assert status["approval"]["slackMessageTS"] == message["ts"]
    assert "slacked" in str(message["blocks"])

    payload = click_payload(message, "mason_continue", APPROVER, "alice")
    assert send_click(url, payload, SIGNING_SECRET, signed=False)[0] == 401
    assert send_click(url, payload, SIGNING_SECRET, timestamp=int(time.time()) - 600)[0] == 401
    stranger = click_payload(message, "mason_continue", "U0STRANGER1", "mallory")
    assert send_click(url, stranger, SIGNING_SECRET)[0] == 403
    assert task_status(cluster, ns, "slacked")["phase"] == "AwaitingApproval"

    assert send_click(url, payload, SIGNING_SECRET)[0] == 200
    job = run_job(cluster, ns, "slacked", 1)
    script = cluster.get("job", job, namespace=ns)["spec"]["template"]["spec"]["containers"][0][
        "command"][2]
    assert f"--resume {final_result(MAX_TURNS)['session_id']}" in script
    status = task_status(cluster, ns, "slacked")
    assert status["approval"]["decision"] == "Continue"
    assert APPROVER in status["approval"]["decidedBy"]
    assert send_click(url, payload, SIGNING_SECRET)[0] in (200, 404)
    assert len(task_status(cluster, ns, "slacked")["runs"]) == 2
    slack.wait_for("chat.update")

    status = awaiting(cluster, kwok, ns, "slacked", 1)
    slack.wait_for("chat.postMessage", count=2)
    second = slack.posted()[-1]
    assert send_click(url, click_payload(second, "mason_stop", APPROVER, "alice"),
                      SIGNING_SECRET)[0] == 200
    status = wait_phase(cluster, ns, "slacked", "Failed")
    assert status["reason"] == "ContinuationDeclined"
    assert APPROVER in status["message"]
