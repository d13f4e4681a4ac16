#!/usr/bin/env python3
"""Burst throughput of mason-operator against its practical limit.

Baseline: this client creates COUNT Jobs directly (copies of the Job the operator
builds, so the API server does the same work per Job) on THREADS threads. The time
runs from the first request until the last Job arrives on a watch opened before it.

Operator: the same client creates COUNT AgentTasks on the same threads in a
namespace the operator watches. The time runs from the first request until every
task has a Job, a NetworkPolicy and a status.runs entry, as seen on watches opened
before the burst. The ratio is the operator's rate over the baseline's rate
(baseline time / operator time); the target is 0.8 or more.

Same writes (--same-writes): the client itself sends the writes of each task, one
after another per task, in namespaces no operator watches: first those the operator
sends (AgentTask, NetworkPolicy, prompt ConfigMap, Job, status patch, Event), then only
those the definition of done requires (AgentTask, NetworkPolicy, Job, status patch).
Their rates bound what an operator making those writes can reach on this control plane.

All phases run in the same invocation on the same control plane, baseline first.
Between them the script waits until the previous phase's pods are Running, so the
cluster is quiet when the next phase starts.
"""

import argparse
import datetime
import threading
import time

import operator_kube as k

TARGET_RATIO = 0.8
SETTLE_TIMEOUT_S = 300
# Labels the API server adds to a Job and its pod template; a new Job must not carry them.
SERVER_LABELS = ("controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
                 "batch.kubernetes.io/job-name")


def job_template(job):
    """Build a Job body like the operator's Job: the same spec, pod template and labels,
    without owner and server-set labels. managed-by is changed, so that no operator's Job
    informer selects the copy."""
    labels = {key: value for key, value in job["metadata"]["labels"].items()
              if key not in SERVER_LABELS}
    labels[k.MANAGED_BY] = "mason-bench"
    pod_labels = {key: value for key, value in job["spec"]["template"]["metadata"]
                  ["labels"].items() if key not in SERVER_LABELS}
    pod_labels[k.MANAGED_BY] = "mason-bench"
    spec = job["spec"]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"labels": labels, "annotations": job["metadata"].get("annotations", {})},
        "spec": {
            "backoffLimit": spec["backoffLimit"],
            "activeDeadlineSeconds": spec["activeDeadlineSeconds"],
            "ttlSecondsAfterFinished": spec["ttlSecondsAfterFinished"],
            "template": {"metadata": {"labels": pod_labels}, "spec": spec["template"]["spec"]},
        },
    }


def warm_up(kube, namespace):
    """Creates one AgentTask and returns what the operator made for it: its Job,
    NetworkPolicy and prompt ConfigMap, and the task's status with its first run."""
    kube.create(k.TASKS.format(ns=namespace), k.agent_task("warm-up", namespace))
    selector = {"labelSelector": "mason.dev/task=warm-up"}

    def made():
        jobs, _ = kube.list(k.JOBS.format(ns=namespace), selector)
        policies, _ = kube.list(k.POLICIES.format(ns=namespace))
        maps, _ = kube.list(k.CONFIG_MAPS.format(ns=namespace), selector)
        task = kube.request("GET", k.TASKS.format(ns=namespace) + "/warm-up").json()
        if not (jobs and policies and maps and (task.get("status") or {}).get("runs")):
            return None
        return {"job": jobs[0], "policy": policies[0], "config_map": maps[0],
                "status": task["status"]}

    return k.wait_until(made, 120, f"the objects of AgentTask {namespace}/warm-up")


def copy_for(obj, name, owner):
    """Returns obj as a new object named name and owned by owner (an AgentTask reply),
    without the fields the API server sets."""
    meta = obj["metadata"]
    labels = {key: value for key, value in (meta.get("labels") or {}).items()
              if key not in SERVER_LABELS}
    labels["mason.dev/task"] = owner["metadata"]["name"]
    body = {key: value for key, value in obj.items() if key not in ("metadata", "status")}
    body["metadata"] = {
        "name": name, "labels": labels, "annotations": meta.get("annotations") or {},
        "ownerReferences": [{"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
                             "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                             "controller": True, "blockOwnerDeletion": True}]}
    return body


def run_baseline(kube, namespace, template, count, threads, timeout):
    """Creates count Jobs; the time ends when the last one arrives on a watch opened
    before the first request, as in the operator phase."""
    names = [f"bench-job-{i:05d}" for i in range(count)]
    seen = {}
    all_seen = threading.Event()

    def on_job(kind, obj, when):
        seen.setdefault(obj["metadata"]["name"], when)
        if len(seen) >= count:
            all_seen.set()

    def create(name):
        kube.create(k.JOBS.format(ns=namespace),
                    dict(template, metadata=dict(template["metadata"], name=name)))

    watch = k.Watch(kube, k.JOBS.format(ns=namespace), on_job).start()
    meter = k.CpuMeter(k.control_plane_pids()).start()
    requests_meter = k.RequestMeter(kube).start()
    t0 = time.monotonic()
    k.run_parallel(create, names, threads)
    replied = time.monotonic() - t0
    if not all_seen.wait(timeout):
        raise TimeoutError(f"only {len(seen)} of {count} Jobs arrived on the watch")
    seconds = max(seen.values()) - t0
    cpu = meter.stop()
    served = requests_meter.stop()
    watch.stop()

    result = {"seconds": round(seconds, 3), "jobs_per_second": round(count / seconds, 1),
              "seconds_until_last_reply": round(replied, 3), "cpu_seconds": cpu,
              "api_requests": served}
    result.update(wait_pods_running(kube, namespace, count, SETTLE_TIMEOUT_S))
    return result


def wait_pods_running(kube, namespace, count, timeout):
    """Waits until count pods in namespace are Running, so that the next phase starts on
    a quiet cluster. Pods that stay Pending (a full node) end the wait at timeout."""
    running = []

    def all_running():
        items, _ = kube.list(k.PODS.format(ns=namespace), {"fieldSelector": "status.phase=Running"})
        running[:] = items
        return len(items) >= count

    t0 = time.monotonic()
    try:
        k.wait_until(all_running, timeout, f"{count} Running pods in {namespace}", interval=3)
    except TimeoutError:
        pass
    return {"pods_running": len(running),
            "seconds_until_pods_running": round(time.monotonic() - t0, 1)}


# The writes of one task in the same-writes phases: "operator" is what mason-operator
# sends, "required" only what a task needs under the benchmark's definition of done.
WRITE_SETS = {
    "operator": ("task", "policy", "config_map", "job", "status", "event"),
    "required": ("task", "policy", "job", "status"),
}


def task_writes(kube, namespace, made):
    """Returns one function per write of a task, each taking the task's name and the reply
    to its create request."""
    job = job_template(made["job"])
    status = {key: made["status"][key] for key in ("phase", "reason", "message", "conditions",
                                                    "runs", "startTime") if key in made["status"]}

    def event(name, task):
        kube.create(k.EVENTS.format(ns=namespace), {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{name}."},
            "involvedObject": {"apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
                               "name": name, "namespace": namespace,
                               "uid": task["metadata"]["uid"]},
            "reason": "JobCreated", "message": f"Job {name}-run was created",
            "type": "Normal", "source": {"component": "mason-bench"}})

    return {
        "policy": lambda name, task: kube.create(k.POLICIES.format(ns=namespace),
                                                 copy_for(made["policy"], name, task)),
        "config_map": lambda name, task: kube.create(
            k.CONFIG_MAPS.format(ns=namespace), copy_for(made["config_map"], f"{name}-prompt",
                                                         task)),
        "job": lambda name, task: kube.create(k.JOBS.format(ns=namespace),
                                              copy_for(job, f"{name}-run", task)),
        "status": lambda name, task: kube.request(
            "PATCH", k.TASKS.format(ns=namespace) + f"/{name}/status", {"status": status},
            content_type="application/merge-patch+json"),
        "event": event,
    }


def run_same_writes(kube, namespace, made, writes, count, threads):
    """Sends the API writes of each task from this client, in a namespace no operator
    watches: the AgentTask, then copies of what the operator made for the warm-up task,
    one after another per task on the same threads as the other phases. The time bounds
    what any operator that makes these writes can reach on this control plane."""
    steps = task_writes(kube, namespace, made)

    def one(name):
        task = kube.create(k.TASKS.format(ns=namespace), k.agent_task(name, namespace))
        for write in writes[1:]:
            steps[write](name, task)

    names = [f"same-{i:05d}" for i in range(count)]
    meter = k.CpuMeter(k.control_plane_pids()).start()
    requests_meter = k.RequestMeter(kube).start()
    t0 = time.monotonic()
    k.run_parallel(one, names, threads)
    seconds = time.monotonic() - t0
    result = {"writes": list(writes), "seconds": round(seconds, 3),
              "tasks_per_second": round(count / seconds, 1), "cpu_seconds": meter.stop(),
              "api_requests": requests_meter.stop()}
    result.update(wait_pods_running(kube, namespace, count, SETTLE_TIMEOUT_S))
    return result


class BurstTracker:
    """First times (monotonic) at which each task of the burst had its Job, its
    NetworkPolicy and a status.runs entry."""

    KINDS = ("job", "policy", "runs")

    def __init__(self, names):
        self.names = set(names)
        self.seen = {kind: {} for kind in self.KINDS}
        self.lock = threading.Lock()
        self.done = threading.Event()

    def _mark(self, kind, name, when):
        if name not in self.names:
            return
        with self.lock:
            self.seen[kind].setdefault(name, when)
            if all(len(self.seen[x]) == len(self.names) for x in self.KINDS):
                self.done.set()

    def on_job(self, kind, obj, when):
        if kind in ("ADDED", "MODIFIED", "LISTED"):
            self._mark("job", k.owner_name(obj), when)

    def on_policy(self, kind, obj, when):
        if kind in ("ADDED", "MODIFIED", "LISTED"):
            self._mark("policy", k.owner_name(obj), when)

    def on_task(self, kind, obj, when):
        if kind in ("ADDED", "MODIFIED", "LISTED") and (obj.get("status") or {}).get("runs"):
            self._mark("runs", obj["metadata"]["name"], when)


def run_operator_burst(kube, namespace, operator, count, threads, timeout):
    names = [f"burst-{i:05d}" for i in range(count)]
    tracker = BurstTracker(names)
    watches = [
        k.Watch(kube, k.JOBS.format(ns=namespace), tracker.on_job,
                {"labelSelector": f"{k.MANAGED_BY}=mason-operator"}).start(),
        k.Watch(kube, k.POLICIES.format(ns=namespace), tracker.on_policy).start(),
        k.Watch(kube, k.TASKS.format(ns=namespace), tracker.on_task).start(),
    ]
    pids = dict(k.control_plane_pids(), **{"mason-operator": operator.pid})
    meter = k.CpuMeter(pids).start()
    requests_meter = k.RequestMeter(kube).start()
    t0 = time.monotonic()
    k.run_parallel(lambda n: kube.create(k.TASKS.format(ns=namespace), k.agent_task(n, namespace)),
                   names, threads)
    created = time.monotonic() - t0
    finished = tracker.done.wait(timeout)
    cpu = meter.stop()
    served = requests_meter.stop()
    for w in watches:
        w.stop()
    errors = [str(w.error) for w in watches if w.error]
    result = {"seconds_to_create_tasks": round(created, 3), "complete": finished,
              "cpu_seconds": cpu, "api_requests": served, "watch_errors": errors}
    for kind in BurstTracker.KINDS:
        times = tracker.seen[kind].values()
        result[f"{kind}_count"] = len(times)
        result[f"seconds_until_all_{kind}"] = round(max(times) - t0, 3) if finished else None
    if finished:
        seconds = max(max(tracker.seen[x].values()) for x in BurstTracker.KINDS) - t0
        result["seconds"] = round(seconds, 3)
        result["tasks_per_second"] = round(count / seconds, 1)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="AgentTasks and Jobs per phase")
    ap.add_argument("--threads", type=int, default=16, help="client threads sending creates")
    ap.add_argument("--workers", type=int, help="mason-operator --workers (default: its own)")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds to wait for the operator to finish the burst")
    ap.add_argument("--out-dir", default=str(k.TOP / "build/bench"),
                    help="directory for the operator log and its configuration")
    ap.add_argument("--json", help="also write the result to this file")
    ap.add_argument("--same-writes", action="store_true",
                    help="also time this client making the writes of each task itself "
                    "(those of the operator, then only the required ones), between the "
                    "baseline and the burst")
    args = ap.parse_args()

    kube = k.Kube(k.default_kubeconfig())
    k.install_crds(kube)
    k.wait_no_all_namespace_operator()
    k.wait_benchmark_namespaces_gone(kube)
    out_dir = k.pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ns_base = k.create_namespace(kube, "jobs")
    ns_op = k.create_namespace(kube, "burst")
    same_namespaces = {label: k.create_namespace(kube, f"same-{label.replace('_', '-')}")
                       for label in WRITE_SETS if args.same_writes}
    operator = k.Operator(kube, [ns_op], out_dir / "throughput-operator.log", args.workers)
    result = {"benchmark": "operator_throughput", "count": args.count,
              "threads": args.threads, "workers": args.workers or "default",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "load_average_at_start": k.load_average()}
    try:
        operator.start()
        operator.wait_started()
        made = warm_up(kube, ns_op)
        result["baseline"] = run_baseline(kube, ns_base, job_template(made["job"]), args.count,
                                          args.threads, args.timeout)
        for label, ns in same_namespaces.items():
            phase = run_same_writes(kube, ns, made, WRITE_SETS[label], args.count, args.threads)
            phase["ratio"] = round(result["baseline"]["seconds"] / phase["seconds"], 3)
            result[f"same_writes_{label}"] = phase
        result["operator"] = run_operator_burst(kube, ns_op, operator, args.count, args.threads,
                                                args.timeout)
        if result["operator"].get("seconds"):
            ratio = result["baseline"]["seconds"] / result["operator"]["seconds"]
            result["ratio"] = round(ratio, 3)
            result["target"] = f"ratio >= {TARGET_RATIO}"
            result["target_met"] = ratio >= TARGET_RATIO
        else:
            result["target_met"] = False
        result["operator_log_problems"] = operator.problems()
        result["client_retries"] = kube.retries
        result["other_operators"] = k.foreign_operators((operator.pid,))
    finally:
        operator.stop()
        k.delete_namespace(kube, ns_base)
        k.delete_namespace(kube, ns_op)
        for ns in same_namespaces.values():
            k.delete_namespace(kube, ns)
        kube.close()
    k.write_result(args.json, result)


if __name__ == "__main__":
    main()
