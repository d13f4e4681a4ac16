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

Both phases run in the same invocation on the same control plane, baseline first.
Between them the script waits until the baseline's pods are Running, so the
cluster is quiet when the burst starts.
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
    """Creates one AgentTask and returns the Job the operator makes for it."""
    kube.create(k.TASKS.format(ns=namespace), k.agent_task("warm-up", namespace))

    def job():
        items, _ = kube.list(k.JOBS.format(ns=namespace), {"labelSelector": "mason.dev/task=warm-up"})
        return items[0] if items else None

    return k.wait_until(job, 120, f"the Job of AgentTask {namespace}/warm-up")


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
    t0 = time.monotonic()
    k.run_parallel(create, names, threads)
    replied = time.monotonic() - t0
    if not all_seen.wait(timeout):
        raise TimeoutError(f"only {len(seen)} of {count} Jobs arrived on the watch")
    seconds = max(seen.values()) - t0
    cpu = meter.stop()
    watch.stop()

    result = {"seconds": round(seconds, 3), "jobs_per_second": round(count / seconds, 1),
              "seconds_until_last_reply": round(replied, 3), "cpu_seconds": cpu}
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
    t0 = time.monotonic()
    k.run_parallel(lambda n: kube.create(k.TASKS.format(ns=namespace), k.agent_task(n, namespace)),
                   names, threads)
    created = time.monotonic() - t0
    finished = tracker.done.wait(timeout)
    cpu = meter.stop()
    for w in watches:
        w.stop()
    errors = [str(w.error) for w in watches if w.error]
    result = {"seconds_to_create_tasks": round(created, 3), "complete": finished,
              "cpu_seconds": cpu, "watch_errors": errors}
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
    args = ap.parse_args()

    kube = k.Kube(k.default_kubeconfig())
    k.install_crds(kube)
    k.wait_no_all_namespace_operator()
    out_dir = k.pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ns_base = k.create_namespace(kube, "jobs")
    ns_op = k.create_namespace(kube, "burst")
    operator = k.Operator(kube, [ns_op], out_dir / "throughput-operator.log", args.workers)
    result = {"benchmark": "operator_throughput", "count": args.count,
              "threads": args.threads, "workers": args.workers or "default",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "load_average_at_start": k.load_average()}
    try:
        operator.start()
        operator.wait_started()
        template = job_template(warm_up(kube, ns_op))
        result["baseline"] = run_baseline(kube, ns_base, template, args.count, args.threads,
                                          args.timeout)
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
        kube.close()
    k.write_result(args.json, result)


if __name__ == "__main__":
    main()
