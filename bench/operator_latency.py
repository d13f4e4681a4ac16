#!/usr/bin/env python3
"""Apply-to-Job latency of mason-operator at low load.

COUNT AgentTasks are created one at a time. For each, the latency runs from the
moment the create request's reply arrives to the moment the task's Job arrives
on a watch of Jobs opened before the first task. This client takes both
timestamps with a monotonic clock. After each Job the script waits GAP seconds
before the next task. Percentiles are nearest-rank over all COUNT tasks, the
first included. Target: p99 of 100 ms or less.
"""

import argparse
import datetime
import math
import threading
import time

import operator_kube as k

TARGET_P99_MS = 100


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class JobArrivals:
    """Time (monotonic) at which each task's first Job arrived on the watch."""

    def __init__(self):
        self.times = {}
        self.cond = threading.Condition()

    def on_job(self, kind, obj, when):
        owner = k.owner_name(obj)
        if owner is None:
            return
        with self.cond:
            if owner not in self.times:
                self.times[owner] = when
                self.cond.notify_all()

    def wait(self, name, timeout):
        with self.cond:
            self.cond.wait_for(lambda: name in self.times, timeout)
            return self.times.get(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100, help="AgentTasks, created one at a time")
    ap.add_argument("--gap", type=float, default=0.25,
                    help="seconds to wait after each Job before the next task")
    ap.add_argument("--timeout", type=float, default=30,
                    help="seconds to wait for each task's Job")
    ap.add_argument("--out-dir", default=str(k.TOP / "build/bench"),
                    help="directory for the operator log and its configuration")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()

    kube = k.Kube(k.default_kubeconfig())
    k.install_crds(kube)
    k.wait_no_all_namespace_operator()
    k.wait_benchmark_namespaces_gone(kube)
    out_dir = k.pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    namespace = k.create_namespace(kube, "latency")
    operator = k.Operator(kube, [namespace], out_dir / "latency-operator.log")
    arrivals = JobArrivals()
    watch = None
    result = {"benchmark": "operator_latency", "count": args.count, "gap_seconds": args.gap,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "load_average_at_start": k.load_average()}
    latencies, missing = [], []
    try:
        operator.start()
        operator.wait_started()
        watch = k.Watch(kube, k.JOBS.format(ns=namespace), arrivals.on_job,
                        {"labelSelector": f"{k.MANAGED_BY}=mason-operator"}).start()
        for i in range(args.count):
            if watch.error:
                break  # reported as watch_error; every later task would only time out
            name = f"latency-{i:04d}"
            kube.create(k.TASKS.format(ns=namespace), k.agent_task(name, namespace))
            replied = time.monotonic()
            arrived = arrivals.wait(name, args.timeout)
            if arrived is None:
                missing.append(name)
                continue
            latencies.append((arrived - replied) * 1000)
            time.sleep(args.gap)
        result["operator_log_problems"] = operator.problems()
        result["other_operators"] = k.foreign_operators((operator.pid,))
    finally:
        if watch:
            watch.stop()
        operator.stop()
        k.delete_namespace(kube, namespace)
        kube.close()
    result["missing_jobs"] = missing
    result["watch_error"] = str(watch.error) if watch and watch.error else None
    if latencies:
        ordered = sorted(latencies)
        result["latency_ms"] = {
            "p50": round(percentile(ordered, 50), 1),
            "p90": round(percentile(ordered, 90), 1),
            "p99": round(percentile(ordered, 99), 1),
            "max": round(ordered[-1], 1),
            "min": round(ordered[0], 1),
            "first": round(latencies[0], 1),
        }
        result["target"] = f"p99 <= {TARGET_P99_MS} ms"
        result["target_met"] = (not missing
                                and result["latency_ms"]["p99"] <= TARGET_P99_MS)
    k.write_result(args.json, result)


if __name__ == "__main__":
    main()
