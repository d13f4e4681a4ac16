"""Fixtures for the end-to-end suites: the local control plane, kubectl, the
mason programs, and kwok helpers that play an agent pod's log and exit."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

TOP = pathlib.Path(__file__).resolve().parent.parent
SHARED = TOP.parent / "shared"


def toolchain_bin():
    out = subprocess.run([str(TOP / "e2e/toolchain/build.sh"), "--print"],
                         check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip())


class Cluster:
    """The local control plane: kubectl access and waiting helpers."""

    def __init__(self, kubeconfig, bindir):
        self.kubeconfig = str(kubeconfig)
        self.bindir = bindir
        self.kubectl_path = str(bindir / "kubectl")
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig)

    def kubectl(self, *args, input=None, check=True, timeout=60):
        """Runs kubectl and returns the CompletedProcess (text mode)."""
        proc = subprocess.run([self.kubectl_path, *args], input=input, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(self, manifest, *extra, check=True):
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.kubectl("apply", "-f", "-", *extra, input=text, check=check)

    def get(self, kind, name=None, namespace="default", selector=None, check=True):
        args = ["get", kind, "-o", "json", "-n", namespace]
        if name:
            args.insert(2, name)
        if selector:
            args += ["-l", selector]
        proc = self.kubectl(*args, check=check)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)

    def items(self, kind, namespace="default", selector=None):
        return self.get(kind, namespace=namespace, selector=selector)["items"]

    def namespace(self, prefix="e2e", labels=None):
        """Creates a fresh namespace and returns its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        meta = {"name": name}
        if labels:
            meta["labels"] = labels
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        wait_until(lambda: self.get("serviceaccount", "default", namespace=name, check=False),
                   60, f"default ServiceAccount in {name}")
        return name


def wait_until(predicate, timeout, what):
    """Polls predicate until it returns a true value; fails naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url, proc, name):
    """Waits up to 30 s until GET url succeeds; fails early when proc (named name) exits."""
    for _ in range(150):
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{name} did not respond at {url} within 30 s")


def stop_process(proc):
    """Terminates proc, and kills it when it has not exited 10 s later."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def cluster():
    out = subprocess.run([str(TOP / "e2e/cluster.sh"), "up"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"cluster.sh up failed: {out.stderr.strip()}")
    c = Cluster(out.stdout.strip().splitlines()[-1], toolchain_bin())
    c.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(TOP / "crds"))
    for crd in ("agenttasks.mason.dev", "agentsessions.mason.dev"):
        c.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    return c


class Kwok:
    """Plays an agent container: its log (CRI format, as kwok serves it) and its exit."""

    def __init__(self, cluster, workdir):
        self.cluster = cluster
        self.workdir = pathlib.Path(workdir)

    def log_path(self, namespace, pod):
        return self.workdir / f"{namespace}-{pod}.log"

    def serve_log(self, namespace, pod, container="agent"):
        """Creates the pod's log file (empty) and a kwok Logs object that serves it."""
        path = self.log_path(namespace, pod)
        path.touch()
        self.cluster.apply({
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
            "metadata": {"name": pod, "namespace": namespace},
            "spec": {"logs": [{"containers": [container], "logsFile": str(path),
                               "follow": True}]},
        })
        return path

    def write(self, namespace, pod, lines):
        """Appends lines (strings or JSON-able objects) to the pod's log."""
        with open(self.log_path(namespace, pod), "a", encoding="utf-8") as f:
            for line in lines:
                text = line if isinstance(line, str) else json.dumps(line)
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                f.write(f"{ts}.{time.time_ns() % 1_000_000_000:09d}Z stdout F {text}\n")

    def finish(self, namespace, pod, exit_code=0, reason=None):
        """Ends the pod's container with exit_code (and a termination reason)."""
        args = ["annotate", "--overwrite", "-n", namespace, f"pod/{pod}",
                f"e2e.mason.dev/exit-code={exit_code}"]
        if reason:
            args.append(f"e2e.mason.dev/reason={reason}")
        self.cluster.kubectl(*args)


@pytest.fixture
def kwok(cluster, tmp_path):
    return Kwok(cluster, tmp_path)


class Operator:
    """A mason-operator process against the local cluster."""

    def __init__(self, cluster, workdir, config_text, args=(), env=None):
        self.cluster = cluster
        self.env = dict(cluster.env, **(env or {}))
        self.workdir = pathlib.Path(workdir)
        self.config = self.workdir / f"mason-config-{uuid.uuid4().hex[:6]}.yaml"
        self.config.write_text(config_text)
        self.log = self.workdir / f"operator-{uuid.uuid4().hex[:6]}.log"
        self.args = list(args)
        self.proc = None

    def start(self):
        binary = TOP / "build/default/bin/mason-operator"
        logf = open(self.log, "a", encoding="utf-8")
        self.proc = subprocess.Popen([str(binary), "--config", str(self.config), *self.args],
                                     env=self.env, stdout=logf, stderr=logf)
        logf.close()
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self):
        self.kill(signal.SIGTERM)

    def log_lines(self):
        if not self.log.exists():
            return []
        return [json.loads(l) for l in self.log.read_text().splitlines() if l.startswith("{")]


DEFAULT_CONFIG = """\
listen: 127.0.0.1:0
engines:
  claude-code:
    image: registry.example/mason/claude-code:test
    auth:
      api_key_secret: anthropic
  codex:
    image: registry.example/mason/codex:test
"""


@pytest.fixture
def operator_factory(cluster, tmp_path):
    started = []

    def make(config_text=DEFAULT_CONFIG, namespaces=None, args=(), env=None):
        text = config_text
        if namespaces:
            text += "namespaces: [" + ", ".join(namespaces) + "]\n"
        op = Operator(cluster, tmp_path, text, args, env).start()
        started.append(op)
        return op

    yield make
    for op in started:
        op.stop()


def transcripts_dir():
    return SHARED / "transcripts"
