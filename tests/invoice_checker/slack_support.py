"""The Slack stand-in for tests, settings pointing at it, and signed requests.

Import the `*_fixture` functions into a test module; pytest knows them by their short names.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from pydantic import SecretStr

from devtools.simulators.invoice_checker.slack import SlackSimulator, SlackWorkspace
from invoice_checker.domain.slack_signing import sign
from invoice_checker.settings import InvoiceCheckerSettings

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
