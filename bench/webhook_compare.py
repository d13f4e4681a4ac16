#!/usr/bin/env python3
"""Check that mason-webhook and the controller-runtime baseline decide alike.

webhook-bench.sh runs this before it measures, so the two servers are compared on the
same work. For the benchmark pods it checks that both allow the hardened pod and deny the
unhardened one. Both must mutate the unhardened pod into the same spec, allow that result,
and return no change to the spec when they mutate it again. Then it runs the tables
of tests/fixtures/webhook through both: every policy case must be allowed exactly when it
lists no violation, and every patch case must mutate to the spec of its expected patch.
The baseline marshals the typed Pod, so its patches also add an empty status and empty
container resources. Those are left out of the comparison. Prints one JSON line and exits
1 on the first difference.

usage: webhook_compare.py CA_FILE MASON_URL BASELINE_URL
"""

import base64
import copy
import json
import pathlib
import ssl
import sys
import urllib.request

BENCH = pathlib.Path(__file__).resolve().parent
FIXTURES = BENCH.parent / "tests/fixtures/webhook"
# Validation path of each server: mason serves one path per mode.
VALIDATE = {"mason": "/validate/pods/enforce", "baseline": "/validate/pods"}


def post(context, url, review):
    request = urllib.request.Request(url, data=json.dumps(review).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.loads(response.read())["response"]


def pointer_tokens(path):
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def apply_patch(document, patch):
    """Applies the add, remove and replace operations of an RFC 6902 JSON Patch."""
    document = copy.deepcopy(document)
    for op in patch:
        *parents, last = pointer_tokens(op["path"])
        target = document
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if op["op"] == "add":
                target.insert(index, op["value"])
            elif op["op"] == "remove":
                del target[index]
            else:
                target[index] = op["value"]
        elif op["op"] == "remove":
            del target[last]
        elif op["op"] in ("add", "replace"):
            target[last] = op["value"]
        else:
            raise ValueError(f"unsupported JSON Patch operation {op['op']!r}")
    return document


def merge_patch(target, patch):
    """Applies an RFC 7386 JSON merge patch, in which null deletes a key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def fixture_pod(base, case):
    pod = merge_patch(base, case.get("pod", {}))
    if "container" in case:
        pod["spec"]["containers"][0] = merge_patch(pod["spec"]["containers"][0],
                                                   case["container"])
    return pod


def without_empty_resources(spec):
    """Drops resources: {} from containers, which the baseline's typed round trip adds."""
    spec = copy.deepcopy(spec)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key, []):
            if container.get("resources") == {}:
                del container["resources"]
    return spec


def compare_fixtures(context, bases, review):
    """Runs the webhook's unit-test tables through both servers' HTTP endpoints."""
    policy = json.loads((FIXTURES / "policy-cases.json").read_text())
    for case in policy["cases"]:
        expected = not case["violations"]
        for name, base in bases.items():
            response = post(context, base + VALIDATE[name],
                            with_object(review, fixture_pod(policy["base"], case)))
            if response["allowed"] != expected:
                return f"{name} gave allowed={response['allowed']} for policy case {case['name']!r}"
    mutation = json.loads((FIXTURES / "patch-cases.json").read_text())
    for case in mutation["cases"]:
        pod = fixture_pod(mutation["base"], case)
        expected = without_empty_resources(apply_patch(pod, case["patch"]).get("spec", {}))
        for name, base in bases.items():
            got = apply_patch(pod, decoded_patch(post(context, base + "/mutate/pods",
                                                      with_object(review, pod))))
            if without_empty_resources(got.get("spec", {})) != expected:
                return (f"{name} mutated patch case {case['name']!r} to "
                        f"{json.dumps(got.get('spec'))}, expected {json.dumps(expected)}")
    return None


def with_object(review, pod):
    review = copy.deepcopy(review)
    review["request"]["object"] = pod
    return review


def decoded_patch(response):
    return json.loads(base64.b64decode(response["patch"])) if response.get("patch") else []


def compare(context, bases):
    hardened = json.loads((BENCH / "webhook-review-hardened.json").read_text())
    bare = json.loads((BENCH / "webhook-review-bare.json").read_text())
    mutated = {}
    for name, base in bases.items():
        if not post(context, base + VALIDATE[name], hardened)["allowed"]:
            return f"{name} denied the hardened pod"
        if post(context, base + VALIDATE[name], bare)["allowed"]:
            return f"{name} allowed the unhardened pod"
        patch = decoded_patch(post(context, base + "/mutate/pods", bare))
        if not patch:
            return f"{name} returned an empty patch for the unhardened pod"
        mutated[name] = apply_patch(bare["request"]["object"], patch)
    if mutated["mason"]["spec"] != mutated["baseline"]["spec"]:
        return ("the mutated specs differ: mason " + json.dumps(mutated["mason"]["spec"]) +
                " baseline " + json.dumps(mutated["baseline"]["spec"]))
    for name, base in bases.items():
        for pod_of in bases:
            review = with_object(bare, mutated[pod_of])
            if not post(context, base + VALIDATE[name], review)["allowed"]:
                return f"{name} denied the pod that {pod_of} mutated"
            again = [op for op in decoded_patch(post(context, base + "/mutate/pods", review))
                     if op["path"].startswith("/spec/")]
            if again:
                return f"{name} patched the pod that {pod_of} already mutated: {json.dumps(again)}"
    return compare_fixtures(context, bases, bare)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: webhook_compare.py CA_FILE MASON_URL BASELINE_URL")
    context = ssl.create_default_context(cafile=sys.argv[1])
    difference = compare(context, {"mason": sys.argv[2], "baseline": sys.argv[3]})
    print(json.dumps({"same_decisions": difference is None, "difference": difference}))
    return 1 if difference else 0


if __name__ == "__main__":
    sys.exit(main())
