"""A local stand-in for the Slack Web API, for tests and the demo.

It speaks the methods the invoice checker calls (`users.list`, `conversations.list`,
`conversations.open`, `conversations.history`, `chat.postMessage` with message metadata,
`chat.unfurl`, `auth.test`) at `/api/<method>`, with
Slack's envelope (`{"ok": true, ...}`, HTTP 200 and `{"ok": false, "error": ...}` on failure),
bearer-token checks and cursor paging, and records every call so tests can assert on what was sent.
`GET /_sim/calls` lists the record; `POST /_sim/reset` clears it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

# The first letter of Slack's ids a message can go to: channels, DMs, groups, people.
CONVERSATION_KINDS = ("C", "D", "G", "U", "W")


@dataclass(frozen=True)
class SlackCall:
    method: str
    token: str | None
    args: dict[str, Any]


@dataclass
class SlackWorkspace:
    """The stand-in's data: members (users.list) and channels (conversations.list)."""

    members: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_emails(cls, emails: Iterable[str], channels: Iterable[str] = ()) -> SlackWorkspace:
        members = [
            {"id": f"U{index:05d}", "name": email.split("@")[0], "profile": {"email": email}}
            for index, email in enumerate(emails, start=1)
        ]
        rooms = [
            {"id": f"C{index:05d}", "name": name, "is_archived": False}
            for index, name in enumerate(channels, start=1)
        ]
        return cls(members=members, channels=rooms)


class SlackSimulator:
    def __init__(
        self,
        workspace: SlackWorkspace | None = None,
        *,
        tokens: Sequence[str] = (),
        page_size: int = 100,
    ) -> None:
        self.workspace = workspace or SlackWorkspace()
        self.tokens = set(tokens)  # empty: any token is accepted
        self.page_size = page_size
        self.calls: list[SlackCall] = []
        # Posted messages by conversation, oldest first (a person's id means their DM).
        self.history: dict[str, list[dict[str, Any]]] = {}
        self._ts = 1_500_000_000
        self._runner: web.AppRunner | None = None
        self.base_url = ""  # set by start()

    def sent(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every recorded call of one method, oldest first."""
        return [call.args for call in self.calls if call.method == method]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/_sim/calls", self._list_calls)
        app.router.add_post("/_sim/reset", self._reset)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port); return the API base URL for slack_sdk."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}/api/"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = _bearer(request) or args.pop("token", None)
        self.calls.append(SlackCall(method, token, args))
        if not token or (self.tokens and token not in self.tokens):
            return _slack({"ok": False, "error": "not_authed" if not token else "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _slack({"ok": False, "error": "unknown_method"})
        body: dict[str, Any] = handler(args)
        return _slack(body)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team": "Simulated", "user": "finance-bot", "user_id": "UBOT"}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        page, cursor = self._page(self.workspace.members, args)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        page, cursor = self._page(self.workspace.channels, args)
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = sorted(str(args.get("users", "")).split(","))
        if users == [""]:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": _conversation(users)}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        posted = self.history.get(channel, [])
        newest_first = [m for m in reversed(posted) if float(m["ts"]) > oldest]
        page, cursor = self._page(newest_first, args)
        if not with_metadata:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        return {"ok": True, "messages": page, "response_metadata": {"next_cursor": cursor}}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if str(args.get("channel") or "")[:1] not in CONVERSATION_KINDS:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("attachments") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        # A message's ts is its time, unique in the workspace, as in Slack.
        self._ts = max(self._ts + 1, int(time.time() * 1_000_000))
        ts = f"{self._ts / 1_000_000:.6f}"
        channel = str(args["channel"])
        conversation = _conversation([channel]) if channel[:1] in ("U", "W") else channel
        message = {"type": "message", "ts": ts, "text": args.get("text", "")}
        if args.get("attachments"):
            message["attachments"] = args["attachments"]
        if isinstance(args.get("metadata"), dict):
            message["metadata"] = args["metadata"]
        self.history.setdefault(conversation, []).append(message)
        return {"ok": True, "channel": conversation, "ts": ts, "message": {"ts": ts, **args}}

    def _chat_unfurl(self, args: dict[str, Any]) -> dict[str, Any]:
        if not (args.get("channel") and args.get("ts") and args.get("unfurls")):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _page(
        self, items: list[dict[str, Any]], args: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str]:
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or self.page_size)
        end = start + limit
        return items[start:end], str(end) if end < len(items) else ""

    async def _list_calls(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(call) for call in self.calls])

    async def _reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        self.history.clear()
        return web.json_response({"ok": True})


def _conversation(users: Sequence[str]) -> str:
    """The same people always get the same conversation, as in Slack: a DM for one person."""
    people = sorted(users)
    return ("D" if len(people) == 1 else "G") + "".join(u[-3:] for u in people)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() or None if header.startswith("Bearer ") else None


async def _arguments(request: web.Request) -> dict[str, Any]:
    """Slack takes arguments as query parameters, a form or JSON; merge whichever came."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update(dict(await request.post()))
    for key in ("attachments", "blocks", "unfurls", "metadata"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args


def _slack(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


def run(
    host: str, port: int, emails: Sequence[str], channels: Sequence[str], tokens: Sequence[str]
) -> None:
    """Serve until interrupted (the `invoice-checker simulate slack` command)."""
    simulator = SlackSimulator(SlackWorkspace.from_emails(emails, channels), tokens=tokens)
    print(f"Slack stand-in at http://{host}:{port}/api/", flush=True)
    web.run_app(simulator.app(), host=host, port=port, print=None)
