"""A local stand-in for the Slack Web API and for Slack's interactivity
requests, for the end-to-end tests.

SlackStandin serves the subset of the Web API that mason calls
(chat.postMessage, chat.update, usergroups.users.list) on 127.0.0.1 and an
ephemeral port. It checks the bot token as Slack does, keeps the messages it
was sent, records every request, and replies with the JSON shapes and error
codes of the real API, such as {"ok": false, "error": "invalid_auth"}.

send_click() plays Slack's side of a button click: it posts a block_actions
payload, form-encoded and signed with the app's signing secret (v0 signature
over the timestamp and the body), to the operator's interactivity URL.
"""

import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_TOKEN = "xoxb-standin-0000000000-abcdefghijklmnop"
DEFAULT_CHANNEL = "C0123456789"
BOT_ID = "B0STANDIN01"
TEAM_ID = "T0STANDIN01"


def sign(signing_secret, timestamp, body):
    """Returns the X-Slack-Signature value for body (bytes) sent at timestamp."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def find_button(message, action_id):
    """Returns the button with action_id in a posted message's blocks, or None."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return element
    return None


def click_payload(message, action_id, user_id, user_name, channel=DEFAULT_CHANNEL):
    """Builds the block_actions payload Slack sends when user_id clicks the
    button action_id of message (a message as the stand-in stores it)."""
    button = find_button(message, action_id)
    if button is None:
        raise ValueError(f"message {message.get('ts')} has no button {action_id}")
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": "A0STANDIN01",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                      "is_ephemeral": False},
        "trigger_id": "1000000000001.1000000001.0123456789abcdef0123456789abcdef",
        "team": {"id": TEAM_ID, "domain": "standin"},
        "channel": {"id": channel, "name": "agent-approvals"},
        "message": message,
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "mason_actions",
            "text": button.get("text", {}),
            "value": button.get("value", ""),
            "action_ts": f"{time.time():.6f}",
        }],
    }


def click_request(payload, signing_secret, timestamp=None, signed=True):
    """Returns (body, headers) of the request Slack sends for payload. The
    timestamp defaults to now; signed=False leaves out the signature."""
    body = ("payload=" + urllib.parse.quote_plus(json.dumps(payload, separators=(",", ":")))).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts}
    if signed:
        headers["X-Slack-Signature"] = sign(signing_secret, ts, body)
    return body, headers


def send_click(url, payload, signing_secret, timestamp=None, signed=True, timeout=10):
    """Posts a click to url as Slack would. Returns (HTTP status, reply text)."""
    body, headers = click_request(payload, signing_secret, timestamp, signed)
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "slack-standin/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def _params(self, raw):
        """Reads the call's arguments from the query, a JSON body or a form body."""
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        ctype = self.headers.get("Content-Type", "")
        if raw and ctype.startswith("application/json"):
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("body is not a JSON object")
            params.update(doc)
        elif raw:
            params.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
        return params

    def _serve(self):
        standin = self.server.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        method = urllib.parse.urlsplit(self.path).path.removeprefix("/api/")
        try:
            params = self._params(raw)
        except (ValueError, UnicodeDecodeError):
            params = None
        status, reply, extra = standin._dispatch(self.command, method, self.headers, raw, params)
        text = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(text)


class SlackStandin:
    """The stand-in server. Use as a context manager, or call start() and stop().

    token: the bot token it accepts. channels: channel ids that exist, and the
    bot is a member of all of them unless listed in not_member. usergroups:
    {"S...": ["U...", ...]}. requests: every request received, in order, as
    dicts with method, api_method, headers, body (bytes) and params.
    """

    def __init__(self, token=DEFAULT_TOKEN, channels=(DEFAULT_CHANNEL,), usergroups=None,
                 not_member=()):
        self.token = token
        self.channels = set(channels)
        self.not_member = set(not_member)
        self.usergroups = dict(usergroups or {})
        self.requests = []
        self.messages = {}  # (channel, ts) -> message
        self._failures = {}  # api_method -> [(status, error, headers)]
        self._lock = threading.Lock()
        self._counter = 0
        self._server = None
        self._thread = None

    # ---- lifecycle ----

    def start(self):
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        """The Web API root, the value for approvals.slack.api_base_url."""
        return f"http://127.0.0.1:{self.port}/api"

    # ---- scripting and inspection ----

    def fail_next(self, api_method, error, status=200, headers=None):
        """Makes the next call of api_method fail with {"ok": false, "error": error}
        and HTTP status (429 with a Retry-After header plays rate limiting)."""
        with self._lock:
            self._failures.setdefault(api_method, []).append((status, error, dict(headers or {})))

    def calls(self, api_method):
        """Returns the recorded requests of api_method."""
        with self._lock:
            return [r for r in self.requests if r["api_method"] == api_method]

    def posted(self):
        """Returns the messages posted so far, in order, as they are now (after updates)."""
        with self._lock:
            return list(self.messages.values())

    def wait_for(self, api_method, count=1, timeout=30.0):
        """Waits until api_method was called count times; returns those calls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls(api_method)
            if len(calls) >= count:
                return calls
            time.sleep(0.1)
        raise AssertionError(f"{api_method} was called {len(self.calls(api_method))} times "
                             f"within {timeout} s, expected {count}")

    # ---- the Web API ----

    def _dispatch(self, command, method, headers, raw, params):
        with self._lock:
            self.requests.append({"method": command, "api_method": method,
                                  "headers": dict(headers.items()), "body": raw,
                                  "params": params})
            auth_error = self._check_auth(headers.get("Authorization"))
            if auth_error:
                return 200, {"ok": False, "error": auth_error}, {}
            if self._failures.get(method):
                status, error, extra = self._failures[method].pop(0)
                return status, {"ok": False, "error": error}, extra
            if params is None:
                return 200, {"ok": False, "error": "invalid_json"}, {}
            handler = {"chat.postMessage": self._post_message,
                       "chat.update": self._update,
                       "usergroups.users.list": self._usergroup_members}.get(method)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            return 200, handler(params), {}

    def _check_auth(self, header):
        if not header:
            return "not_authed"
        if header != f"Bearer {self.token}":
            return "invalid_auth"
        return None

    def _check_channel(self, channel):
        if channel not in self.channels:
            return "channel_not_found"
        if channel in self.not_member:
            return "not_in_channel"
        return None

    def _post_message(self, params):
        channel = params.get("channel")
        error = self._check_channel(channel)
        if error:
            return {"ok": False, "error": error}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        self._counter += 1
        ts = f"{int(time.time())}.{self._counter:06d}"
        message = {"type": "message", "subtype": "bot_message", "text": params.get("text", ""),
                   "ts": ts, "bot_id": BOT_ID, "blocks": params.get("blocks", [])}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params):
        channel, ts = params.get("channel"), params.get("ts")
        error = self._check_channel(channel)
        if error:
            return {"ok": False, "error": error}
        message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message["text"] = params.get("text", message["text"])
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"],
                "message": message}

    def _usergroup_members(self, params):
        group = params.get("usergroup")
        if not group:
            return {"ok": False, "error": "invalid_arguments"}
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}
