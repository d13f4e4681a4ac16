"""mason-operator --check-config on the shipped example configurations and on
broken ones: every example is valid, and a mistake is reported with its key
path and the fix, before anything connects to a cluster."""

import subprocess

import pytest

from conftest import TOP

OPERATOR = TOP / "build/default/bin/mason-operator"
EXAMPLES = sorted((TOP / "examples").glob("*config*.yaml")) + [TOP / "e2e/demo/mason-config.yaml"]


def check(path):
    return subprocess.run([str(OPERATOR), "--config", str(path), "--check-config"],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configuration_is_valid(path):
    out = check(path)
    assert out.returncode == 0, out.stderr
    assert "is valid" in out.stdout


@pytest.mark.parametrize("text, expected", [
    ("engines:\n  claude-code:\n    imag: x\n", "engines.claude-code: Unexpected key: imag"),
    ("scoring:\n  intervention: explode\n", "scoring.intervention"),
    ("pricing:\n  - model: m\n    input: cheap\n", "pricing[0].input"),
    ("approvals:\n  slack:\n    channel: C1\n", "approvals.slack"),
    ("defaults:\n  memory_request: lots\n", "defaults.memory_request"),
    ("scoring:\n  warn_bellow: 0.5\n", "scoring: unknown key \"warn_bellow\""),
    ("pricing:\n  - model: m\n    outptu: 1\n", "pricing[0]: unknown key \"outptu\""),
])
def test_broken_configuration_names_the_key(tmp_path, text, expected):
    path = tmp_path / "mason-config.yaml"
    path.write_text(text)
    out = check(path)
    assert out.returncode == 1
    assert expected in out.stderr
