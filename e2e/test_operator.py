"""End-to-end checks of mason-operator on the local control plane: AgentTasks
become hardened Jobs with an egress NetworkPolicy, and the task's status
follows the agent pod, which kwok plays."""

import json
import signal
import subprocess
import time

import pytest

from conftest import TOP, wait_until

TASK_TIMEOUT = 90


def agent_task(name, namespace, prompt="Fix the flaky test.", **spec):
    body = {"prompt": prompt, "engine": "claude-code"}
    body.update(spec)
    return {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


def task_status(cluster, namespace, name):
    obj = cluster.get("agenttask", name, namespace=namespace, check=False)
    return (obj or {}).get("status", {})


def wait_phase(cluster, namespace, name, phase, timeout=TASK_TIMEOUT):
    return wait_until(lambda: task_status(cluster, namespace, name).get("phase") == phase
                      and task_status(cluster, namespace, name),
                      timeout, f"AgentTask {namespace}/{name} in phase {phase}")


def jobs_of(cluster, namespace, name):
    return [j for j in cluster.items("jobs", namespace=namespace)
            if any(r.get("name") == name and r.get("kind") == "AgentTask"
                   for r in j["metadata"].get("ownerReferences", []))]


def agent_pod(cluster, namespace, job_name, timeout=TASK_TIMEOUT * 2):
    """Returns the name of the Job's pod once it runs, so kwok plays its log and exit."""
    def find():
        pods = cluster.items("pods", namespace=namespace,
                             selector=f"batch.kubernetes.io/job-name={job_name}")
        running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        return running[0]["metadata"]["name"] if running else None
    return wait_until(find, timeout, f"running pod of Job {job_name}")


def started_task(cluster, namespace, name, **spec):
    cluster.apply(agent_task(name, namespace, **spec))
    jobs = wait_until(lambda: jobs_of(cluster, namespace, name), TASK_TIMEOUT,
                      f"Job of {name}")
    return jobs[0], agent_pod(cluster, namespace, jobs[0]["metadata"]["name"])


@pytest.fixture
def namespace(cluster):
    return cluster.namespace("op")


@pytest.fixture
def operator(operator_factory, namespace):
    return operator_factory(namespaces=[namespace])


def test_apply_creates_hardened_job_and_policy(cluster, namespace, operator):
    job, pod = started_task(cluster, namespace, "fix-flaky-test")
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlSecondsAfterFinished"] == 3600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["automountServiceAccountToken"] is False
    psc = pod_spec["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert (psc["runAsUser"], psc["runAsGroup"], psc["fsGroup"]) == (10000, 10000, 10000)
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod_spec["containers"][0]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]["memory"] == "4Gi"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/home/agent", "/workspace"} <= mounts
    labels = job["metadata"]["labels"]
    for key in ("mason.dev/task", "mason.dev/run", "mason.dev/engine",
                "app.kubernetes.io/name", "app.kubernetes.io/managed-by"):
        assert key in labels, key
    owner = job["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "AgentTask"
    assert owner["controller"] is True

    policies = cluster.items("networkpolicies", namespace=namespace)
    assert len(policies) == 1
    policy = policies[0]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy.get("ingress", []) == []
    ports = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule.get("ports", [])}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 22)} <= ports
    blocks = [t["ipBlock"] for rule in policy["egress"] for t in rule.get("to", [])]
    anywhere = [b for b in blocks if b["cidr"] == "0.0.0.0/0"]
    assert anywhere
    assert "169.254.0.0/16" in anywhere[0].get("except", [])
    status = wait_phase(cluster, namespace, "fix-flaky-test", "Running")
    assert status["runs"][0]["job"] == job["metadata"]["name"]


def test_prompt_reaches_pod_byte_for_byte(cluster, namespace, operator):
    prompt = ("It's \"quoted\" and `back-ticked` $(echo not run)\n\ttabs, ünïcödé, 日本語 🚀\n"
              * 1500)[:100_000]
    job, _ = started_task(cluster, namespace, "long-prompt", prompt=prompt)
    volumes = job["spec"]["template"]["spec"]["volumes"]
    config_map = next(v["configMap"]["name"] for v in volumes if "configMap" in v)
    data = cluster.get("configmap", config_map, namespace=namespace)["data"]
    assert data["prompt"] == prompt


def test_pod_success_gives_succeeded(cluster, namespace, operator, kwok):
    _, pod = started_task(cluster, namespace, "will-succeed")
    kwok.finish(namespace, pod, 0)
    status = wait_phase(cluster, namespace, "will-succeed", "Succeeded")
    assert status["runs"][0]["outcome"] == "Succeeded"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["status"] == "True"
    generation = cluster.get("agenttask", "will-succeed", namespace=namespace)["metadata"]["generation"]
    assert all(c["observedGeneration"] == generation for c in status["conditions"])
    events = wait_until(lambda: [e for e in cluster.items("events", namespace=namespace)
                                 if e["involvedObject"]["name"] == "will-succeed"
                                 and e["reason"] == "Completed"], 30, "Completed event")
    assert events[0]["type"] == "Normal"


def test_pod_failure_gives_failed_with_reason(cluster, namespace, operator, kwok):
    _, pod = started_task(cluster, namespace, "will-fail")
    kwok.finish(namespace, pod, 2, "Error")
    status = wait_phase(cluster, namespace, "will-fail", "Failed")
    assert status["reason"] == "BackoffLimitExceeded"
    assert status["runs"][0]["outcome"] == "Failed"
    assert status["runs"][0]["reason"] == "BackoffLimitExceeded"
    # The pod printed nothing, which the operator reports: its stream gave no usage.
    warned = wait_until(lambda: [l for l in operator.log_lines()
                                 if "ended without one agent event" in l.get("msg", "")
                                 and l.get("name") == "will-fail"], 30, "the empty-stream warning")
    assert warned[0]["level"] == "warn"


def test_deadline_gives_deadline_exceeded(cluster, namespace, operator):
    started_task(cluster, namespace, "too-slow", limits={"maxDurationSeconds": 60})
    status = wait_phase(cluster, namespace, "too-slow", "Failed", timeout=150)
    assert status["reason"] == "DeadlineExceeded"


def test_missing_image_fails_with_fix(cluster, namespace, operator):
    cluster.apply(agent_task("no-image", namespace, engine="aider"))
    status = wait_phase(cluster, namespace, "no-image", "Failed")
    assert status["reason"] == "InvalidSpec"
    assert "engines.aider.image" in status["message"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Accepted"]["status"] == "False"
    assert conditions["Accepted"]["reason"] == "InvalidSpec"
    assert jobs_of(cluster, namespace, "no-image") == []
    assert not [p for p in cluster.items("networkpolicies", namespace=namespace)
                if any(r.get("name") == "no-image" for r in p["metadata"].get("ownerReferences", []))]

    # With spec.image it runs, and a Warning Event reports that it gets no API key.
    cluster.apply(agent_task("own-image", namespace, engine="aider",
                             image="registry.example/aider:1"))
    wait_until(lambda: jobs_of(cluster, namespace, "own-image"), TASK_TIMEOUT, "Job of own-image")
    warned = wait_until(lambda: [e for e in cluster.items("events", namespace=namespace)
                                 if e["involvedObject"]["name"] == "own-image"
                                 and e["reason"] == "EngineNotConfigured"], 30,
                        "the EngineNotConfigured event")
    assert warned[0]["type"] == "Warning"
    assert "no engines.aider section" in warned[0]["message"]
    assert "no API key Secret" in warned[0]["message"]


def test_unschedulable_pod_is_explained(cluster, namespace, operator):
    cluster.apply(agent_task("nowhere", namespace, nodeSelector={"mason.dev/no-such-node": "true"}))

    def explained():
        status = task_status(cluster, namespace, "nowhere")
        return "its pod is not scheduled" in status.get("message", "") and status

    status = wait_until(explained, TASK_TIMEOUT, "a message saying why the pod waits")
    assert status["phase"] == "Pending"
    assert status["reason"] == "PodStarting"
    assert "node" in status["message"]


def test_delete_removes_owned_objects(cluster, namespace, operator):
    job, _ = started_task(cluster, namespace, "short-lived")
    cluster.kubectl("delete", "agenttask", "short-lived", "-n", namespace, "--wait=true")
    wait_until(lambda: not jobs_of(cluster, namespace, "short-lived")
               and not cluster.items("networkpolicies", namespace=namespace)
               and not [c for c in cluster.items("configmaps", namespace=namespace)
                        if c["metadata"]["name"] == job["metadata"]["name"]],
               TASK_TIMEOUT, "owned objects to be garbage-collected")


def test_restricted_namespace_admits_agent_pods(cluster, operator_factory):
    ns = cluster.namespace("restricted", labels={
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest"})
    operator_factory(namespaces=[ns])
    _, pod = started_task(cluster, ns, "restricted-ok")
    assert cluster.get("pod", pod, namespace=ns)


def test_kill_during_burst_gives_one_job_per_task(cluster, namespace, operator_factory):
    op = operator_factory(namespaces=[namespace])
    tasks = "\n---\n".join(json.dumps(agent_task(f"burst-{i}", namespace)) for i in range(50))
    cluster.apply(tasks)
    time.sleep(1.0)
    op.kill(signal.SIGKILL)
    operator_factory(namespaces=[namespace])

    def all_have_jobs():
        jobs = cluster.items("jobs", namespace=namespace)
        owners = [r["name"] for j in jobs for r in j["metadata"].get("ownerReferences", [])]
        return len(set(owners)) == 50 and owners
    owners = wait_until(all_have_jobs, 300, "a Job for each of 50 tasks")
    assert len(owners) == 50, "some task got more than one Job"
    wait_until(lambda: all(task_status(cluster, namespace, f"burst-{i}").get("runs")
                           for i in range(50)), 120, "status of every task")


def test_operator_survives_api_server_restart(cluster, namespace, operator):
    started_task(cluster, namespace, "before-restart")
    subprocess.run([str(TOP / "e2e/cluster.sh"), "restart-apiserver"], check=True,
                   capture_output=True, timeout=180)
    started_task(cluster, namespace, "after-restart")
    assert operator.proc.poll() is None


def test_invalid_task_is_rejected_by_api_server(cluster, namespace):
    no_prompt = agent_task("no-prompt", namespace)
    del no_prompt["spec"]["prompt"]
    out = cluster.apply(no_prompt, check=False)
    assert out.returncode != 0
    assert "prompt" in out.stderr
    bad_mode = agent_task("bad-mode", namespace, session={"persistence": "sometimes"})
    out = cluster.apply(bad_mode, check=False)
    assert out.returncode != 0
    assert "persistence" in out.stderr
    assert "shared-pvc" in out.stderr


def test_leader_election_lets_one_replica_act(cluster, namespace, operator_factory):
    lease_ns = cluster.namespace("lease")
    args = ["--leader-elect", "--leader-election-namespace", lease_ns]
    first = operator_factory(namespaces=[namespace], args=args)
    wait_until(lambda: any("holds Lease" in l.get("msg", "") for l in first.log_lines()), 30,
               "the first replica to take the Lease")
    second = operator_factory(namespaces=[namespace], args=args)
    wait_until(lambda: any("waiting for Lease" in l.get("msg", "") for l in second.log_lines()),
               30, "the second replica to wait")
    started_task(cluster, namespace, "elected")
    assert not any("created Job" in l.get("msg", "") for l in second.log_lines())
    first.stop()
    wait_until(lambda: any("holds Lease" in l.get("msg", "") for l in second.log_lines()), 30,
               "the second replica to take over after the first released the Lease")
    started_task(cluster, namespace, "after-handover")
