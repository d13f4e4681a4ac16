"""End-to-end checks of agent supervision: the operator follows the agent
pod's log (kwok serves a Claude Code stream-json stream the project wrote),
writes usage into the status, decides success from the engine's own result,
and stops a run that passes its cost ceiling."""

import json
import signal

import pytest

from conftest import TOP, wait_until
from test_operator import agent_pod, jobs_of, started_task, task_status, wait_phase

STREAMS = TOP / "tests/fixtures/streams"


def stream_lines(name):
    return [line for line in (STREAMS / name).read_text().splitlines() if line.strip()]


def final_result(name):
    return json.loads(stream_lines(name)[-1])


@pytest.fixture
def namespace(cluster):
    return cluster.namespace("sup")


def play(kwok, namespace, pod, lines):
    kwok.serve_log(namespace, pod)
    kwok.write(namespace, pod, lines)


def test_usage_equals_stream_totals(cluster, namespace, operator_factory, kwok):
    operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "counted")
    play(kwok, namespace, pod, stream_lines("claude-success.jsonl"))
    result = final_result("claude-success.jsonl")
    wait_until(lambda: task_status(cluster, namespace, "counted").get("usage", {}).get("costUSD")
               == pytest.approx(result["total_cost_usd"]), 60, "usage from the stream")
    kwok.finish(namespace, pod, 0)
    status = wait_phase(cluster, namespace, "counted", "Succeeded")
    usage = status["usage"]
    assert usage["costUSD"] == pytest.approx(result["total_cost_usd"])
    assert usage["outputTokens"] == result["usage"]["output_tokens"]
    assert usage["cacheReadTokens"] == result["usage"]["cache_read_input_tokens"]
    assert usage["toolCalls"] > 0
    assert status["runs"][0]["sessionID"] == result["session_id"]
    assert status["result"]["success"] is True
    assert status["result"]["summary"] == result["result"]
    assert status["result"]["branch"] == "mason/counted"


def test_restart_mid_stream_counts_once(cluster, namespace, operator_factory, kwok):
    first = operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "restarted")
    lines = stream_lines("claude-success.jsonl")
    play(kwok, namespace, pod, lines[:6])
    wait_until(lambda: task_status(cluster, namespace, "restarted").get("usage", {}).get("toolCalls"),
               60, "usage from the first half of the stream")
    first.kill(signal.SIGKILL)
    operator_factory(namespaces=[namespace])
    kwok.write(namespace, pod, lines[6:])
    kwok.finish(namespace, pod, 0)
    status = wait_phase(cluster, namespace, "restarted", "Succeeded")
    result = final_result("claude-success.jsonl")
    assert status["usage"]["costUSD"] == pytest.approx(result["total_cost_usd"])
    assert status["usage"]["outputTokens"] == result["usage"]["output_tokens"]


def test_agent_reported_failure_fails_despite_exit_zero(cluster, namespace, operator_factory,
                                                         kwok):
    operator_factory(namespaces=[namespace])
    _, pod = started_task(cluster, namespace, "says-failed")
    lines = stream_lines("claude-success.jsonl")
    last = json.loads(lines[-1])
    last.update(subtype="error_during_execution", is_error=True, result="could not build")
    play(kwok, namespace, pod, lines[:-1] + [json.dumps(last)])
    wait_until(lambda: task_status(cluster, namespace, "says-failed").get("usage", {}).get("costUSD"),
               60, "the final result to be read")
    kwok.finish(namespace, pod, 0)
    status = wait_phase(cluster, namespace, "says-failed", "Failed")
    assert status["reason"] == "AgentReportedFailure"


def test_cost_ceiling_stops_run(cluster, namespace, operator_factory, kwok):
    operator_factory(namespaces=[namespace])
    job, pod = started_task(cluster, namespace, "too-costly", limits={"maxCostUSD": 0.01})
    play(kwok, namespace, pod, stream_lines("claude-success.jsonl"))
    status = wait_phase(cluster, namespace, "too-costly", "Failed")
    assert status["reason"] == "CostLimitExceeded"
    assert status["runs"][0]["reason"] == "CostLimitExceeded"
    wait_until(lambda: not jobs_of(cluster, namespace, "too-costly"), 60, "the Job to be deleted")
    wait_until(lambda: not cluster.items("pods", namespace=namespace,
                                         selector=f"batch.kubernetes.io/job-name={job['metadata']['name']}"),
               60, "the agent pod to be gone")
    events = [e for e in cluster.items("events", namespace=namespace)
              if e["involvedObject"]["name"] == "too-costly"]
    assert any(e["reason"] == "CostLimitExceeded" and e["type"] == "Warning" for e in events)


def test_looping_run_is_terminated(cluster, namespace, operator_factory, kwok):
    operator_factory(namespaces=[namespace])
    job, pod = started_task(cluster, namespace, "looping")
    play(kwok, namespace, pod, stream_lines("claude-failing-loop.jsonl"))
    status = wait_phase(cluster, namespace, "looping", "Failed")
    assert status["reason"] == "LowProgressScore"
    assert status["score"] < 0.2
    assert "loop" in status["scoreReasons"][0]
    wait_until(lambda: not jobs_of(cluster, namespace, "looping"), 60, "the Job to be deleted")
    events = [e["reason"] for e in cluster.items("events", namespace=namespace)
              if e["involvedObject"]["name"] == "looping"]
    assert "LowProgressScore" in events


def test_looping_run_is_resumed_with_hint(cluster, namespace, operator_factory, kwok):
    from conftest import DEFAULT_CONFIG  # the default operator configuration
    cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": f"hint-{namespace}"},
                   "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                            "hostPath": {"path": f"/tmp/hint-{namespace}"}}})
    try:
        operator_factory(DEFAULT_CONFIG + "scoring:\n  intervention: hint\n",
                         namespaces=[namespace])
        _, pod = started_task(cluster, namespace, "hinted",
                              session={"persistence": "per-taskrun-pvc"})
        lines = stream_lines("claude-failing-loop.jsonl")
        play(kwok, namespace, pod, lines)
        session_id = json.loads(lines[0])["session_id"]

        def hint_run():
            runs = task_status(cluster, namespace, "hinted").get("runs", [])
            return runs[1] if len(runs) > 1 else None
        run = wait_until(hint_run, 90, "a run resumed with a hint")
        assert run["trigger"] == "Hint"
        assert run["resumed"] is True
        assert "go test" in run["hint"]
        job = cluster.get("job", run["job"], namespace=namespace)
        script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
        assert f"--resume {session_id}" in script
        config_map = next(v["configMap"]["name"] for v in job["spec"]["template"]["spec"]["volumes"]
                          if "configMap" in v)
        prompt = cluster.get("configmap", config_map, namespace=namespace)["data"]["prompt"]
        assert "go test" in prompt
    finally:
        cluster.kubectl("delete", "pv", f"hint-{namespace}", "--wait=false", check=False)
