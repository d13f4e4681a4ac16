"""Shared helpers of the operator benchmarks: a small Kubernetes API client
over requests (client certificate from the kubeconfig), watches, namespaces,
AgentTask bodies, and a mason-operator process whose RSS and CPU time can be read.

The benchmarks run on the local control plane of e2e/cluster.sh, which other
test runs may use at the same time, so every benchmark works in namespaces of
its own and deletes them at the end.
"""

import base64
import concurrent.futures
import json
import os
import pathlib
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import requests
import yaml

TOP = pathlib.Path(__file__).resolve().parent.parent
OPERATOR_BIN = TOP / "build/default/bin/mason-operator"
CLUSTER_DIR = TOP / "e2e/.cluster"
TASKS = "/apis/mason.dev/v1alpha1/namespaces/{ns}/agenttasks"
JOBS = "/apis/batch/v1/namespaces/{ns}/jobs"
POLICIES = "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"
PODS = "/api/v1/namespaces/{ns}/pods"
CONFIG_MAPS = "/api/v1/namespaces/{ns}/configmaps"
EVENTS = "/api/v1/namespaces/{ns}/events"
REQUEST_TIMEOUT_S = 60
MAX_ATTEMPTS = 5
# The label the operator puts on everything it creates; its Job informer selects on it.
MANAGED_BY = "app.kubernetes.io/managed-by"

# The kwok node offers 256 CPUs, which fit only 512 agent pods at the default request of
# 500m. The throughput benchmark runs 2,001 pods at once, so every benchmark requests 10m.
OPERATOR_CONFIG = """\
log_level: info
listen: 127.0.0.1:0
defaults:
  cpu_request: 10m
engines:
  claude-code:
    image: registry.example/mason/claude-code:bench
    auth:
      api_key_secret: anthropic
namespaces: [{namespaces}]
"""


class ApiError(Exception):
    """A request that failed after its retries; the message names method, path and status."""


def toolchain_bin():
    out = subprocess.run([str(TOP / "e2e/toolchain/build.sh"), "--print"], check=True,
                         capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip())


def default_kubeconfig():
    return os.environ.get("KUBECONFIG") or str(CLUSTER_DIR / "kubeconfig")


class Kube:
    """API client with one requests.Session (one keep-alive connection) per thread."""

    def __init__(self, kubeconfig):
        with open(kubeconfig, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        context = next(c["context"] for c in cfg["contexts"]
                       if c["name"] == cfg["current-context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == context["user"])
        self.kubeconfig = kubeconfig
        self.server = cluster["server"].rstrip("/")
        self._tmp = tempfile.TemporaryDirectory(prefix="mason-bench-")
        self.ca = self._pem(cluster, "certificate-authority")
        self.cert = (self._pem(user, "client-certificate"), self._pem(user, "client-key"))
        self._local = threading.local()
        self.retries = 0  # requests sent again after a 429, a 5xx or a connection error
        self._lock = threading.Lock()

    def _pem(self, section, key):
        """Returns a file path for section[key + '-data'] (written out) or section[key]."""
        if key + "-data" not in section:
            return section[key]
        path = pathlib.Path(self._tmp.name) / key
        path.write_bytes(base64.b64decode(section[key + "-data"]))
        path.chmod(0o600)
        return str(path)

    def close(self):
        self._tmp.cleanup()

    def session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            # Environment settings (REQUESTS_CA_BUNDLE, proxies) would replace the
            # kubeconfig's CA and could send loopback traffic elsewhere.
            s.trust_env = False
            s.verify = self.ca
            s.cert = self.cert
            self._local.session = s
        return s

    def request(self, method, path, body=None, params=None, content_type="application/json",
                ok=(200, 201)):
        """Sends one request, retrying 429, 5xx and connection errors up to MAX_ATTEMPTS
        times, and returns the requests.Response. Raises ApiError for other statuses."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                resp = self.session().request(method, self.server + path, data=data,
                                              params=params, headers=headers,
                                              timeout=REQUEST_TIMEOUT_S)
            except requests.ConnectionError:
                if attempt == MAX_ATTEMPTS:
                    raise
                self._count_retry()
                time.sleep(0.1 * attempt)
                continue
            if resp.status_code in ok:
                return resp
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < MAX_ATTEMPTS:
                self._count_retry()
                time.sleep(float(resp.headers.get("Retry-After", 0.1 * attempt)))
                continue
            raise ApiError(f"{method} {path} failed: HTTP {resp.status_code}: "
                           f"{resp.text[:300]}")
        raise AssertionError("unreachable")

    def _count_retry(self):
        with self._lock:
            self.retries += 1

    def create(self, path, body):
        return self.request("POST", path, body).json()

    def list(self, path, params=None):
        """Lists every item (following continue tokens) and returns (items, resourceVersion)."""
        items = []
        params = dict(params or {}, limit=500)
        while True:
            page = self.request("GET", path, params=params).json()
            items += page.get("items") or []
            token = page["metadata"].get("continue")
            if not token:
                return items, page["metadata"]["resourceVersion"]
            params["continue"] = token


def kubectl(kube, *args, timeout=120):
    proc = subprocess.run([str(toolchain_bin() / "kubectl"), *args], capture_output=True,
                          text=True, timeout=timeout,
                          env=dict(os.environ, KUBECONFIG=kube.kubeconfig))
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def install_crds(kube):
    kubectl(kube, "apply", "--server-side", "-f", str(TOP / "crds"))
    for crd in ("agenttasks.mason.dev", "agentsessions.mason.dev"):
        kubectl(kube, "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


def wait_until(predicate, timeout, what, interval=0.2):
    """Polls predicate until it returns a true value; raises TimeoutError naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def create_namespace(kube, prefix):
    """Creates bench-<prefix>-<random> and waits for its default ServiceAccount, without
    which the Job controller cannot create pods."""
    name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
    kube.create("/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": name, "labels": {"mason.dev/benchmark": prefix}}})

    def has_sa():
        resp = kube.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default",
                            ok=(200, 404))
        return resp.status_code == 200

    wait_until(has_sa, 60, f"the default ServiceAccount in {name}")
    return name


def wait_benchmark_namespaces_gone(kube, timeout=900):
    """Waits until no namespace of an earlier benchmark is still being deleted: the
    namespace controller's cleanup of thousands of objects would load the API server
    during the next measurement."""
    def none_terminating():
        items, _ = kube.list("/api/v1/namespaces", {"labelSelector": "mason.dev/benchmark"})
        return not any(ns["metadata"].get("deletionTimestamp") for ns in items)

    wait_until(none_terminating, timeout, "the deletion of earlier benchmark namespaces",
               interval=2)


def delete_namespace(kube, name):
    """Starts the deletion; the namespace controller removes the contents in the background."""
    kube.request("DELETE", f"/api/v1/namespaces/{name}", ok=(200, 202, 404))


def agent_task(name, namespace):
    return {
        "apiVersion": "mason.dev/v1alpha1", "kind": "AgentTask",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"engine": "claude-code", "prompt": "Fix the flaky test in internal/refunds."},
    }


def owner_name(obj):
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "AgentTask" and ref.get("controller"):
            return ref["name"]
    return None


def run_parallel(fn, items, threads):
    """Calls fn(item) for every item on a pool of threads; returns the results in order and
    re-raises the first exception."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fn, items))


class Watch:
    """Lists a collection, then watches it from that resourceVersion on a thread of its
    own, calling on_event(type, obj, monotonic_time) for every object, the listed ones
    included (as type "LISTED"). The time is taken when the event's line arrives, before
    it is parsed. It reconnects after a watch timeout and relists after 410 Gone, until
    stop() or the deadline."""

    def __init__(self, kube, path, on_event, params=None, deadline_s=3600):
        self.kube = kube
        self.path = path
        self.on_event = on_event
        self.params = dict(params or {})
        self.deadline = time.monotonic() + deadline_s
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.error = None
        self._resp = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        if not self.ready.wait(60):
            raise TimeoutError(f"the watch of {self.path} did not start within 60 s")
        return self

    def stop(self):
        self.stopping.set()
        resp = self._resp
        if resp is not None:
            resp.close()
        self._thread.join(10)

    def _relist(self):
        items, rv = self.kube.list(self.path, self.params)
        now = time.monotonic()
        for obj in items:
            self.on_event("LISTED", obj, now)
        return rv

    def _run(self):
        try:
            rv = self._relist()
            while not self.stopping.is_set() and time.monotonic() < self.deadline:
                rv = self._watch_once(rv)
        except Exception as exc:  # reported by the benchmark that reads self.error
            if not self.stopping.is_set():
                self.error = exc
        finally:
            self.ready.set()

    def _watch_once(self, rv):
        """Follows one watch request; returns the resourceVersion to continue from, or a
        fresh one after a relist."""
        params = dict(self.params, watch="true", resourceVersion=rv,
                      allowWatchBookmarks="true", timeoutSeconds="300")
        resp = self.kube.session().get(self.kube.server + self.path, params=params,
                                       stream=True, timeout=(10, 330),
                                       headers={"Accept": "application/json",
                                                "Accept-Encoding": "identity"})
        self._resp = resp
        try:
            if resp.status_code == 410:
                return self._relist()
            if resp.status_code != 200:
                raise ApiError(f"watch {self.path} failed: HTTP {resp.status_code}: "
                               f"{resp.text[:300]}")
            self.ready.set()
            for line in resp.iter_lines(chunk_size=65536):
                now = time.monotonic()
                if self.stopping.is_set():
                    return rv
                if not line:
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        return self._relist()
                    raise ApiError(f"watch {self.path}: ERROR event {obj}")
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if event.get("type") != "BOOKMARK":
                    self.on_event(event["type"], obj, now)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                AttributeError):
            # stop() closes the response under the reader; any other break reconnects.
            if self.stopping.is_set():
                return rv
            time.sleep(0.2)
        finally:
            resp.close()
        return rv


def cpu_seconds(pid):
    """User plus system CPU time of a process in seconds, or None when it is gone."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control_plane_pids():
    """Return the pids of the control-plane processes that e2e/cluster.sh started, by name."""
    pids = {}
    for name in ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok"):
        try:
            pids[name] = int((CLUSTER_DIR / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
    return pids


class CpuMeter:
    """CPU seconds used by a set of processes between start() and stop()."""

    def __init__(self, pids):
        self.pids = dict(pids)
        self.pids["bench client (python)"] = os.getpid()
        self.before = {}

    def start(self):
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}
        return self

    def stop(self):
        used = {}
        for name, pid in self.pids.items():
            now = cpu_seconds(pid)
            if now is not None and self.before.get(name) is not None:
                used[name] = round(now - self.before[name], 2)
        return used


def foreign_operators(own_pids=()):
    """Other mason-operator processes on this machine, as a list of (pid, namespaces),
    where namespaces is None when the process watches all namespaces (its configuration
    has no namespaces list or cannot be read)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own_pids:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"mason-operator"):
            continue
        found.append((int(entry.name), _watched_namespaces(entry, argv)))
    return found


def _watched_namespaces(proc_dir, argv):
    args = [a.decode(errors="replace") for a in argv]
    if "--config" not in args or args.index("--config") + 1 >= len(args):
        return None
    path = pathlib.Path(args[args.index("--config") + 1])
    if not path.is_absolute():
        try:
            path = pathlib.Path(os.readlink(proc_dir / "cwd")) / path
        except OSError:
            return None
    try:
        return yaml.safe_load(path.read_text()).get("namespaces") or None
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def wait_no_all_namespace_operator(own_pids=(), timeout=600):
    """Waits until no other mason-operator watches all namespaces, because such an
    operator would also reconcile the benchmark's AgentTasks. Raises TimeoutError."""
    def none_left():
        return not [p for p, ns in foreign_operators(own_pids) if ns is None]

    if not none_left():
        print("waiting for other mason-operator processes that watch all namespaces to exit",
              flush=True)
    wait_until(none_left, timeout, "other mason-operator processes watching all namespaces "
               "to exit", interval=2)


class Operator:
    """A mason-operator process limited to the given namespaces, logging to log_path."""

    def __init__(self, kube, namespaces, log_path, workers=None):
        self.kube = kube
        self.log_path = pathlib.Path(log_path)
        self.config_path = self.log_path.with_suffix(".yaml")
        self.config_path.write_text(OPERATOR_CONFIG.format(namespaces=", ".join(namespaces)))
        self.workers = workers
        self.proc = None
        self.start_time = None

    def start(self):
        if not OPERATOR_BIN.exists():
            raise FileNotFoundError(f"{OPERATOR_BIN} is missing; run 'make all' first")
        args = [str(OPERATOR_BIN), "--config", str(self.config_path)]
        if self.workers:
            args += ["--workers", str(self.workers)]
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log,
                                         env=dict(os.environ, KUBECONFIG=self.kube.kubeconfig))
        self.start_time = time.monotonic()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log_lines(self):
        lines = []
        for text in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(text))
            except ValueError:
                lines.append({"level": "raw", "msg": text})
        return lines

    def wait_started(self, timeout=180):
        """Waits for the log line that reports the start (written after the first list of
        AgentTasks and Jobs); returns the seconds since start()."""
        def started():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mason-operator exited with status {self.proc.returncode}; "
                                   f"see {self.log_path}")
            return any(str(l.get("msg", "")).startswith("started") for l in self.log_lines())

        wait_until(started, timeout, f"mason-operator to log its start in {self.log_path}")
        return time.monotonic() - self.start_time

    def memory_kib(self):
        """VmRSS and VmHWM from /proc/PID/status, in KiB."""
        values = {}
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values

    def problems(self):
        """Counts of the log's warn and error lines (and lines that are not JSON), keyed by
        level and the message up to its first colon, so that repeats of one failure with
        different names count as one entry."""
        counts = {}
        for l in self.log_lines():
            if l.get("level") in ("warn", "error", "raw"):
                key = f"{l.get('level')}: {str(l.get('msg', '')).split(':', 1)[0][:120]}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def load_average():
    """Return the 1, 5 and 15 minute load averages, which show how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def write_result(path, result):
    result["load_average_at_end"] = load_average()
    if path:
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(path).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2), flush=True)


class RequestMeter:
    """Requests the API server served between start() and stop(), by verb and resource,
    from its apiserver_request_total counter."""

    def __init__(self, kube):
        self.kube = kube
        self.before = {}

    def _sample(self):
        counts = {}
        text = self.kube.request("GET", "/metrics").text
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels, value = line[len("apiserver_request_total{"):].rsplit("} ", 1)
            fields = dict(part.split("=", 1) for part in labels.split('",') if "=" in part)
            fields = {key: val.strip('"') for key, val in fields.items()}
            resource = fields.get("resource", "")
            if fields.get("subresource"):
                resource += "/" + fields["subresource"]
            key = f'{fields.get("verb", "")} {resource}'
            counts[key] = counts.get(key, 0) + float(value)
        return counts

    def start(self):
        self.before = self._sample()
        return self

    def stop(self):
        after = self._sample()
        delta = {key: int(value - self.before.get(key, 0)) for key, value in after.items()}
        return dict(sorted(((key, n) for key, n in delta.items() if n > 0),
                           key=lambda item: -item[1]))
