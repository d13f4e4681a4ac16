"""The local Slack stand-in, and the operator's Slack client and interactivity
endpoint against it. The C side is driven through e2e/test_slack_probe.c,
built here against the project's libraries. No Kubernetes is needed."""

import json
import os
import pathlib
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from slack_standin import (DEFAULT_CHANNEL, DEFAULT_TOKEN, SlackStandin, click_payload,
                           click_request, find_button, sign)

TOP = pathlib.Path(__file__).resolve().parent.parent
PKGS = "libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
SIGNING_SECRET = "standin-signing-secret-0123456789"
TASK_VALUE = "agents/fix-login/6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41/r1"

# Slack's worked example from "Verifying requests from Slack" (api.slack.com).
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """Builds the probe against build/<variant>/libmason-*.a. MASON_SANITIZE=address,undefined
    builds it with those sanitizers, as `make SANITIZE=...` does."""
    sanitize = os.environ.get("MASON_SANITIZE", "")
    variant = sanitize.replace(",", "-") or "default"
    lib = TOP / "build" / variant
    subprocess.run(["make", "-s", "-C", str(TOP), f"SANITIZE={sanitize}",
                    str(lib.relative_to(TOP) / "libmason-operator.a"),
                    str(lib.relative_to(TOP) / "libmason-webhook.a"),
                    str(lib.relative_to(TOP) / "libmason-common.a")], check=True)
    out = tmp_path_factory.mktemp("probe") / "slack-probe"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PKGS.split()], check=True,
                           capture_output=True, text=True).stdout.split()
    if sanitize:
        flags += [f"-fsanitize={sanitize}", "-fno-sanitize-recover=all"]
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", "-I", str(TOP / "common"),
                    "-I", str(TOP / "operator"), "-o", str(out), str(TOP / "e2e/test_slack_probe.c"),
                    str(lib / "libmason-operator.a"), str(lib / "libmason-webhook.a"),
                    str(lib / "libmason-common.a"), *flags, "-lpthread", "-lm"], check=True)
    return out


@pytest.fixture
def slack():
    with SlackStandin(usergroups={"S0REVIEWERS": ["U0CAROL0000", "W0DAVE00000"]},
                      channels=(DEFAULT_CHANNEL, "C0NOTMEMBER"), not_member=("C0NOTMEMBER",)) as s:
        yield s


def run_probe(probe, slack, *commands, token=DEFAULT_TOKEN):
    """Runs the probe against the stand-in and returns its JSON lines."""
    proc = subprocess.run([str(probe), slack.url, token, SIGNING_SECRET, *commands],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for secret in (token, SIGNING_SECRET):
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def call(slack, method, params, token=DEFAULT_TOKEN):
    """Calls the stand-in's Web API with a JSON body, as the operator does."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{slack.url}/{method}", data=json.dumps(params).encode(),
                                 headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        return resp.status, json.loads(resp.read())


# ---- the stand-in itself ----

def test_sign_matches_documented_example():
    assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE


def test_standin_posts_and_records(slack):
    status, reply = call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL, "text": "hi"})
    assert status == 200
    assert reply["ok"] is True
    assert reply["channel"] == DEFAULT_CHANNEL
    assert reply["ts"] == reply["message"]["ts"]
    assert len(slack.calls("chat.postMessage")) == 1
    recorded = slack.calls("chat.postMessage")[0]
    assert recorded["headers"]["Authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert recorded["params"] == {"channel": DEFAULT_CHANNEL, "text": "hi"}

    status, reply = call(slack, "chat.update", {"channel": DEFAULT_CHANNEL, "ts": reply["ts"],
                                                "text": "edited"})
    assert reply["ok"] is True
    assert slack.posted()[0]["text"] == "edited"


def test_standin_checks_token(slack):
    assert call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL, "text": "x"},
                token="xoxb-wrong")[1] == {"ok": False, "error": "invalid_auth"}
    assert call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL, "text": "x"},
                token=None)[1] == {"ok": False, "error": "not_authed"}
    assert slack.posted() == []
    assert len(slack.requests) == 2


def test_standin_slack_errors(slack):
    assert call(slack, "chat.postMessage", {"channel": "C0NOSUCHONE", "text": "x"})[1]["error"] \
        == "channel_not_found"
    assert call(slack, "chat.postMessage", {"channel": "C0NOTMEMBER", "text": "x"})[1]["error"] \
        == "not_in_channel"
    assert call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL})[1]["error"] == "no_text"
    assert call(slack, "chat.update", {"channel": DEFAULT_CHANNEL, "ts": "1.000001",
                                       "text": "x"})[1]["error"] == "message_not_found"
    assert call(slack, "usergroups.users.list", {"usergroup": "S0NOSUCHONE"})[1]["error"] \
        == "no_such_subteam"
    assert call(slack, "usergroups.users.list", {"usergroup": "S0REVIEWERS"})[1] \
        == {"ok": True, "users": ["U0CAROL0000", "W0DAVE00000"]}
    assert call(slack, "chat.delete", {})[1]["error"] == "unknown_method"


def test_standin_scripted_rate_limit(slack):
    slack.fail_next("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "1"})
    with pytest.raises(urllib.error.HTTPError) as info:
        call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL, "text": "x"})
    assert info.value.code == 429
    assert info.value.headers["Retry-After"] == "1"
    assert call(slack, "chat.postMessage", {"channel": DEFAULT_CHANNEL, "text": "x"})[1]["ok"]


def test_click_request_is_signed():
    payload = {"type": "block_actions", "actions": []}
    body, headers = click_request(payload, SIGNING_SECRET, timestamp=1712345700)
    assert body.startswith(b"payload=%7B%22type%22%3A%22block_actions%22")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Slack-Request-Timestamp"] == "1712345700"
    assert headers["X-Slack-Signature"] == sign(SIGNING_SECRET, "1712345700", body)
    assert "X-Slack-Signature" not in click_request(payload, SIGNING_SECRET, signed=False)[1]


# ---- the operator's client against the stand-in ----

def test_client_posts_request_message(probe, slack):
    [line] = run_probe(probe, slack, "post")
    assert line["rc"] == "OK", line["error"]
    assert line["channel"] == DEFAULT_CHANNEL
    [message] = slack.posted()
    assert message["ts"] == line["ts"]
    assert find_button(message, "mason_continue")["value"] == TASK_VALUE
    assert find_button(message, "mason_stop")["value"] == TASK_VALUE
    assert "*Turns used*\n100" in json.dumps(message["blocks"], ensure_ascii=False).replace("\\n", "\n")
    params = slack.calls("chat.postMessage")[0]["params"]
    assert params["channel"] == DEFAULT_CHANNEL
    assert "continuation 1 of 2" in params["text"]


def test_client_updates_decided_message(probe, slack):
    [posted] = run_probe(probe, slack, "post")
    [line] = run_probe(probe, slack, f"update:{posted['channel']}:{posted['ts']}:stop")
    assert line["rc"] == "OK", line["error"]
    [message] = slack.posted()
    assert find_button(message, "mason_continue") is None
    assert "*Stopped* by probe" in json.dumps(message["blocks"])


def test_client_reports_slack_errors(probe, slack):
    [line] = run_probe(probe, slack, "post", token="xoxb-revoked")
    assert line["rc"] == "UNAUTHORIZED"
    assert "invalid_auth" in line["error"]
    assert "approvals.slack.bot_token_secret" in line["error"]
    slack.fail_next("chat.postMessage", "not_in_channel")
    [line] = run_probe(probe, slack, "post")
    assert line["rc"] == "FORBIDDEN"
    assert "invite the app to the channel" in line["error"]
    [line] = run_probe(probe, slack, "update:C0123456789:1.000001:continue")
    assert line["rc"] == "NOTFOUND"


def test_client_checks_approvers(probe, slack):
    lines = run_probe(probe, slack, "approver:U0ALICE0000", "approver:W0DAVE00000",
                      "approver:U0CAROL0000", "approver:U0MALLORY00")
    assert [line["allowed"] for line in lines] == [True, True, True, False]
    assert all(line["rc"] == "OK" for line in lines)
    # One group lookup serves all three checks that needed it.
    calls = slack.calls("usergroups.users.list")
    assert len(calls) == 1
    assert calls[0]["params"] == {"usergroup": "S0REVIEWERS"}


# ---- Slack's side of a click, against the operator's endpoint ----

def deliver(probe, slack, tmp_path, payload, timestamp=None, signed=True):
    """Sends a click through the probe's endpoint and returns its JSON line."""
    body, headers = click_request(payload, SIGNING_SECRET, timestamp, signed)
    path = tmp_path / f"click-{time.monotonic_ns()}"
    path.write_bytes(body)
    ts = headers["X-Slack-Request-Timestamp"]
    [line] = run_probe(probe, slack,
                       f"interact:{ts}:{headers.get('X-Slack-Signature', '')}:{path}")
    return line


def posted_message(probe, slack):
    run_probe(probe, slack, "post")
    return slack.posted()[-1]


def test_signed_click_applied(probe, slack, tmp_path):
    message = posted_message(probe, slack)
    payload = click_payload(message, "mason_continue", "U0CAROL0000", "carol")
    line = deliver(probe, slack, tmp_path, payload)
    assert line["status"] == 200, line
    assert line["applied"] == {"outcome": "continue", "user": "U0CAROL0000",
                               "task": "agents/fix-login", "request_id": "r1"}
    [update] = slack.calls("chat.update")
    assert update["params"]["ts"] == message["ts"]
    [shown] = slack.posted()
    assert find_button(shown, "mason_continue") is None
    assert "*Continued* by <@U0CAROL0000> (carol)" in json.dumps(shown["blocks"])


def test_unsigned_click_rejected(probe, slack, tmp_path):
    payload = click_payload(posted_message(probe, slack), "mason_stop", "U0ALICE0000", "alice")
    line = deliver(probe, slack, tmp_path, payload, signed=False)
    assert line["status"] == 401
    assert line["applied"] == {}
    assert slack.calls("chat.update") == []


def test_stale_click_rejected(probe, slack, tmp_path):
    payload = click_payload(posted_message(probe, slack), "mason_stop", "U0ALICE0000", "alice")
    line = deliver(probe, slack, tmp_path, payload, timestamp=int(time.time()) - 600)
    assert line["status"] == 401
    assert line["applied"] == {}


def test_unauthorised_click_rejected(probe, slack, tmp_path):
    message = posted_message(probe, slack)
    line = deliver(probe, slack, tmp_path,
                   click_payload(message, "mason_continue", "U0MALLORY00", "mallory"))
    assert line["status"] == 403
    assert line["reply"] == "user is not an approver\n"
    line = deliver(probe, slack, tmp_path, click_payload(message, "mason_continue", "U0ALICE0000",
                                                         "alice", channel="C0NOTMEMBER"))
    assert line["status"] == 403
    assert line["applied"] == {}
    assert slack.calls("chat.update") == []
