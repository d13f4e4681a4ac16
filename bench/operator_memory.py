#!/usr/bin/env python3
"""Resident memory of mason-operator with COUNT AgentTasks in its cache.

The tasks are created while no operator watches their namespace, and each one's
status is set to phase Succeeded through the status subresource, so the operator
caches them without creating Jobs. The operator then starts limited to that
namespace; after its log reports the start (the first list is done), the script
waits SETTLE seconds and reads VmRSS and VmHWM from /proc/PID/status. The same
reading with an empty namespace is the comparison. Target: VmRSS of 50 MB or less.
"""

import argparse
import datetime
import time

import operator_kube as k

TARGET_MB = 50


def measure(kube, namespace, log_path, settle):
    """Starts an operator on namespace, waits for its start plus settle seconds, and
    returns its memory (MiB) with the seconds its start took."""
    operator = k.Operator(kube, [namespace], log_path)
    try:
        operator.start()
        started = operator.wait_started()
        samples = []
        for _ in range(int(settle)):
            time.sleep(1)
            samples.append(operator.memory_kib()["VmRSS"])
        memory = operator.memory_kib()
        problems = operator.problems()
    finally:
        operator.stop()
    return {"seconds_to_start": round(started, 2),
            "vm_rss_mib": round(memory["VmRSS"] / 1024, 1),
            "vm_hwm_mib": round(memory["VmHWM"] / 1024, 1),
            "vm_rss_mib_min_max_while_settling": [round(min(samples) / 1024, 1),
                                                  round(max(samples) / 1024, 1)],
            "operator_log_problems": problems}


def fill(kube, namespace, count, threads):
    """Creates count AgentTasks, each followed at once by its status patch to Succeeded;
    returns the seconds it took."""
    status = {"status": {"phase": "Succeeded", "reason": "Completed",
                         "message": "set by the memory benchmark"}}

    def create(i):
        name = f"cached-{i:05d}"
        kube.create(k.TASKS.format(ns=namespace), k.agent_task(name, namespace))
        kube.request("PATCH", k.TASKS.format(ns=namespace) + f"/{name}/status", status,
                     content_type="application/merge-patch+json")

    t0 = time.monotonic()
    k.run_parallel(create, range(count), threads)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10000, help="AgentTasks in the cache")
    ap.add_argument("--threads", type=int, default=16, help="client threads sending creates")
    ap.add_argument("--settle", type=float, default=20,
                    help="seconds between the operator's start and the reading")
    ap.add_argument("--out-dir", default=str(k.TOP / "build/bench"),
                    help="directory for the operator logs and their configuration")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()

    kube = k.Kube(k.default_kubeconfig())
    k.install_crds(kube)
    out_dir = k.pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "operator_memory", "count": args.count, "settle_seconds": args.settle,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "load_average_at_start": k.load_average()}
    ns_empty = k.create_namespace(kube, "empty")
    ns_full = None
    try:
        result["empty"] = measure(kube, ns_empty, out_dir / "memory-empty-operator.log",
                                  args.settle)
        # An operator that watches all namespaces would start a Job for every task
        # before its status is set.
        k.wait_no_all_namespace_operator()
        k.wait_benchmark_namespaces_gone(kube)
        ns_full = k.create_namespace(kube, "memory")
        result["seconds_to_create_tasks"] = round(fill(kube, ns_full, args.count, args.threads), 1)
        items, _ = kube.list(k.JOBS.format(ns=ns_full))
        result["jobs_in_namespace"] = len(items)
        result["full"] = measure(kube, ns_full, out_dir / "memory-full-operator.log",
                                 args.settle)
        result["target"] = f"VmRSS <= {TARGET_MB} MB"
        result["target_met"] = result["full"]["vm_rss_mib"] * 1.048576 <= TARGET_MB
        result["client_retries"] = kube.retries
    finally:
        k.delete_namespace(kube, ns_empty)
        if ns_full:
            k.delete_namespace(kube, ns_full)
        kube.close()
    k.write_result(args.json, result)


if __name__ == "__main__":
    main()
