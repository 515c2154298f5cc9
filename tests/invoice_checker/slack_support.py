"""The Slack stand-in for tests, settings pointing at it, and signed requests.

Import the `*_fixture` functions into a test module; pytest knows them by their short names.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from invoice_checker.domain.slack_signing import sign
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.slack import SlackSimulator, SlackWorkspace

BOT_TOKEN = "xoxb-test-bot"
WORKSPACE_TOKEN = "xoxa-test-workspace"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMINS = ("UADMIN1", "UADMIN2")
PUBLIC_URL = "https://finance.example.com"


@pytest_asyncio.fixture(name="slack_standin")
async def slack_standin_fixture() -> AsyncIterator[SlackSimulator]:
    simulator = SlackSimulator(SlackWorkspace(), tokens=[BOT_TOKEN, WORKSPACE_TOKEN], page_size=2)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture(name="slack_settings")
def slack_settings_fixture(
    ic_settings: InvoiceCheckerSettings, slack_standin: SlackSimulator
) -> InvoiceCheckerSettings:
    return ic_settings.model_copy(
        update={
            "slack_api_url": slack_standin.base_url,
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_workspace_token": SecretStr(WORKSPACE_TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_notifications_admin": ",".join(ADMINS),
            "public_url": PUBLIC_URL,
        }
    )


def signed_headers(body: bytes, *, age: int = 0, secret: str = SIGNING_SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret, timestamp, body),
    }


def command_body(**fields: str) -> bytes:
    defaults = {"command": "/flex-hours", "text": "", "response_url": "https://hooks.example/x"}
    return urlencode({**defaults, **fields}).encode()


# Faults the stand-in can play on chat.postMessage: whether Slack took the message ("after")
# or not ("before"), and what the client sees.
POST_FAULTS = (
    "500-before",  # 500 with an HTML body; not posted
    "500-after",  # posted, then 500
    "429",  # rate limited; not posted
    "timeout-before",  # no answer within the client's time limit; not posted
    "timeout-after",  # posted, then no answer within the client's time limit
    "drop-before",  # connection closed; not posted
    "drop-after",  # posted, then the connection closed
    "hang-after",  # posted, then no answer until released (for killing the sender meanwhile)
)


class FaultySlack(SlackSimulator):
    """The stand-in, playing one fault on chosen chat.postMessage calls (counted from 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults: dict[int, str] = {}
        self.posts = 0
        self.delay = 3.0  # seconds a timeout fault waits: more than the client's limit
        self.posted_hanging = asyncio.Event()  # set when a hang-after post is recorded
        self.release_hanging = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "chat.postMessage":
            return await super()._api(request)
        self.posts += 1
        fault = self.faults.get(self.posts)
        if fault is None:
            return await super()._api(request)
        if fault == "500-before":
            return web.Response(status=500, text="<html>Internal Server Error</html>")
        if fault == "429":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="")
        if fault == "timeout-before":
            await asyncio.sleep(self.delay)
            return web.Response(status=503, text="")
        if fault == "drop-before":
            return _drop(request)
        await super()._api(request)  # Slack takes the message
        if fault == "500-after":
            return web.Response(status=500, text="<html>Internal Server Error</html>")
        if fault == "timeout-after":
            await asyncio.sleep(self.delay)
            return web.Response(status=503, text="")
        if fault == "hang-after":
            self.posted_hanging.set()
            await self.release_hanging.wait()
            return web.Response(status=503, text="")
        return _drop(request)

    def delivered(self) -> Counter[str]:
        """How often each distinct message arrived in a conversation (as Slack holds them)."""
        return Counter(
            json.dumps([conversation, m["text"], m.get("attachments")], sort_keys=True)
            for conversation, messages in self.history.items()
            for m in messages
        )


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)
