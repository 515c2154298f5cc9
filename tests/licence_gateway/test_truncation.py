"""Issue 18.1 through the service: ICMS posts what the original accepted; CHIEF gets a valid file.

ICMS is played by a client that signs with mohawk as ICMS does and checks Server-Authorization.
"""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from licence_gateway.domain.chief import validate_licence_data_file
from licence_gateway.jobs.batching import run_batching
from licence_gateway.jobs.context import MailFlow
from licence_gateway.main import create_app
from tests.licence_gateway.icms_client import HAWK_KEY, icms_client
from tests.licence_gateway.mail_flow_support import attachment_text, batches, licences
from tests.support.apps import app_client
from tests.support.smtp_server import LocalSmtpServer

TOKEN = "admin-token-for-tests"


async def test_a_field_too_long_only_in_ascii_is_accepted_cut_logged_and_shown(
    mail_flow: MailFlow, chief_smtp: LocalSmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = mail_flow.settings.model_copy(
        update={"icms_hawk_key": SecretStr(HAWK_KEY), "admin_token": SecretStr(TOKEN)}
    )
    [licence] = licences("fa_sil_insert")
    licence["organisation"]["name"] = "Café £ " * 11  # 77 characters, 88 in ASCII
    licence["organisation"]["address"]["postcode"] = " S11 8ZZ "  # 7 once trimmed
    async with icms_client(settings, None) as icms:
        posted = await icms.post("/mail/update-licence/", {"licence": licence})
        assert posted.response.status_code == 201, posted.response.text
        posted.accept()  # signed as ICMS expects

    batching_log = logging.getLogger("licence_gateway.jobs.batching")
    batching_log.addHandler(caplog.handler)  # the app's logging setup stops propagation
    try:
        assert await run_batching(mail_flow) == "mail 1 sent"
    finally:
        batching_log.removeHandler(caplog.handler)

    [message] = chief_smtp.messages
    attachment = attachment_text(message.data)
    assert validate_licence_data_file(attachment) == []
    assert "\\" + ("Cafe PS " * 11).strip()[:80] + "\\" in attachment
    [batch] = await batches(mail_flow.engine)
    assert "\\" + "Café £ " * 11 + "\\" in batch.file_text  # the original's bytes, kept
    cuts = [r for r in caplog.records if "cut to its CHIEF maximum" in r.getMessage()]
    assert [(getattr(r, "payload_id", None), getattr(r, "field", None)) for r in cuts] == [
        (1, "organisation.name"),
        (1, "organisation.address.postcode"),  # the original's file kept the spaces too
    ]

    async with app_client(create_app(settings)) as client:
        detail = await client.get("/admin/payloads/1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert detail.json()["truncated_fields"] == [
        "organisation.name",
        "organisation.address.postcode",
    ]
