#!/usr/bin/env python3
"""Heap that jansson needs for COUNT cached AgentTasks, as served and without
metadata.managedFields.

The script creates one AgentTask in a fresh namespace, sets its status the way
operator_memory.py does, reads it back, and deletes the namespace. It then loads
COUNT copies (each with its own name, uid and resourceVersion) into one jansson
object through ctypes, keyed by namespace/name like the operator's informer
cache, and reports the growth of glibc's heap in use (mallinfo2). This explains the operator's
RSS from operator_memory.py without building a C program.
"""

import argparse
import copy
import ctypes
import ctypes.util
import json
import uuid

import operator_kube as k


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def sample_task(kube):
    namespace = k.create_namespace(kube, "cache")
    try:
        path = k.TASKS.format(ns=namespace)
        kube.create(path, k.agent_task("cached-00000", namespace))
        kube.request("PATCH", path + "/cached-00000/status",
                     {"status": {"phase": "Succeeded", "reason": "Completed",
                                 "message": "set by the memory benchmark"}},
                     content_type="application/merge-patch+json")
        return kube.request("GET", path + "/cached-00000").json()
    finally:
        k.delete_namespace(kube, namespace)


def heap_in_use(libc):
    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2().uordblks


def load_copies(jansson, libc, task, count, strip_managed_fields):
    """Loads count copies of task into one jansson object and returns the heap growth in
    bytes. The object is never freed, so that the growth stays in use until exit."""
    jansson.json_loads.restype = ctypes.c_void_p
    jansson.json_loads.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
    jansson.json_object.restype = ctypes.c_void_p
    jansson.json_object_set_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    texts = []
    for i in range(count):
        obj = copy.deepcopy(task)
        meta = obj["metadata"]
        meta.update(name=f"cached-{i:05d}", uid=str(uuid.uuid4()),
                    resourceVersion=str(100000 + i))
        if strip_managed_fields:
            meta.pop("managedFields", None)
        texts.append((f"{meta['namespace']}/{meta['name']}".encode(),
                      json.dumps(obj, separators=(",", ":")).encode()))
    before = heap_in_use(libc)
    cache = jansson.json_object()
    for key, text in texts:
        jansson.json_object_set_new(cache, key, jansson.json_loads(text, 0, None))
    return heap_in_use(libc) - before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10000, help="AgentTasks to load")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()

    jansson = ctypes.CDLL(ctypes.util.find_library("jansson") or "libjansson.so.4")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    kube = k.Kube(k.default_kubeconfig())
    try:
        k.install_crds(kube)
        task = sample_task(kube)
    finally:
        kube.close()
    managed = json.dumps(task["metadata"].get("managedFields"), separators=(",", ":"))
    result = {"benchmark": "operator_cache_size", "count": args.count,
              "task_json_bytes": len(json.dumps(task, separators=(",", ":"))),
              "managed_fields_json_bytes": len(managed)}
    for label, strip in (("as_served", False), ("without_managed_fields", True)):
        grown = load_copies(jansson, libc, task, args.count, strip)
        result[f"heap_mib_{label}"] = round(grown / 1048576, 1)
        result[f"heap_bytes_per_task_{label}"] = round(grown / args.count)
    k.write_result(args.json, result)


if __name__ == "__main__":
    main()
