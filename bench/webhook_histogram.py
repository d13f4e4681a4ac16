#!/usr/bin/env python3
"""Summarise mason-webhook's own latency histogram between two /metrics snapshots.

The histogram measures the time from the request headers to the queued response, so it
leaves out TLS, the network and the client. webhook-bench.sh takes the snapshots around the
paced run to tell server time from the rest of the end-to-end latency. The histogram's
buckets are coarse (0.5, 1, 2.5, 5 ms and up), so the p99 is an upper bound.

usage: webhook_histogram.py METRICS_BEFORE METRICS_AFTER [ENDPOINT]
"""

import json
import re
import sys


def buckets(path, endpoint):
    pattern = re.compile(r'mason_webhook_request_duration_seconds_bucket\{endpoint="'
                         + re.escape(endpoint) + r'",le="([^"]+)"\} (\d+)')
    with open(path, encoding="utf-8") as f:
        return {le: int(count) for le, count in pattern.findall(f.read())}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: webhook_histogram.py METRICS_BEFORE METRICS_AFTER [ENDPOINT]")
    endpoint = sys.argv[3] if len(sys.argv) == 4 else "validate_pods"
    before, after = buckets(sys.argv[1], endpoint), buckets(sys.argv[2], endpoint)
    if "+Inf" not in after:
        sys.exit(f"webhook_histogram.py: no histogram for endpoint {endpoint!r} in {sys.argv[2]}")
    counts = {le: after[le] - before.get(le, 0) for le in after}
    total = counts["+Inf"]
    if total == 0:
        sys.exit("webhook_histogram.py: no requests between the two snapshots")
    p99 = next(le for le in counts if counts[le] >= 0.99 * total)
    print(json.dumps({"server": "mason", "server_side": {
        "endpoint": endpoint, "requests": total,
        "p99_at_most_ms": None if p99 == "+Inf" else float(p99) * 1e3,
        "share_within_1ms": round(counts.get("0.001", 0) / total, 4),
        "share_within_2.5ms": round(counts.get("0.0025", 0) / total, 4)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
