"""The CHIEF codec: pure functions over the files exchanged with HMRC by e-mail, no I/O.

licenceData (we send):
    `build_licence_data(licences, run_number=, created_at=, source_system=) -> LicenceDataFile`
        stored licence objects (raw dicts, arrival order) -> `.name`, `.text` (stored),
        `.attachment` (ASCII, e-mailed, each field cut to its CHIEF maximum),
        `.references`, `.cut_fields`; self-checked; raises
        `LicenceNotBuildable` (names the licence) or `LicenceDataInvalid` (lists `FileProblem`s).
    `validate_licence_data_file(text) -> list[FileProblem]`, `check_licence_data(text)` (text and
        its ASCII form), `is_uk_postcode`, `to_ascii`, `licence_data_file_name`.
    `read_licence_data(text) -> LicenceDataSummary` (run number, per licence reference and action):
        what the HMRC simulator reads.
licenceReply (CHIEF answers):
    `parse_licence_reply(text) -> LicenceReply` (`.outcome`, `.accepted`, `.rejected`,
        `.file_errors`, `.run_number`); `reply_summary` (the CLI's JSON);
        `reply_callback_body(reply, icms_ids)` + `callback_json(body)` (ICMS
        `chief/license-data-callback`);
        `render_licence_reply(...)`, `fake_licence_reply(outcome, ...)`, `licence_reply_file_name`.
usageData (CHIEF reports):
    `parse_usage_data(text) -> UsageData`; `usage_callback_body(usage)` (ICMS
        `chief/usage-data-callback`, checks the trailer count); `render_usage_data(...)`.
Every parser raises only `ChiefFormatError` (`.message`, `.line`) on malformed input.
"""

from licence_gateway.domain.chief.licence_data import (
    CHIEF_LICENCE_TYPE,
    DEFAULT_SOURCE_SYSTEM,
    CutField,
    LicenceDataFile,
    LicenceDataSummary,
    LicenceNotBuildable,
    LicenceTransaction,
    build_licence_data,
    check_licence_data,
    file_timestamp,
    licence_data_file_name,
    read_licence_data,
)
from licence_gateway.domain.chief.licence_reply import (
    FakeReply,
    FileError,
    LicenceReply,
    RejectedTransaction,
    ReplyError,
    ReplyOutcome,
    UnknownReference,
    callback_json,
    fake_licence_reply,
    licence_reply_file_name,
    parse_licence_reply,
    render_licence_reply,
    reply_callback_body,
    reply_mismatch,
    reply_summary,
)
from licence_gateway.domain.chief.syntax import ChiefFormatError, to_ascii
from licence_gateway.domain.chief.usage_data import (
    LicenceUsage,
    UsageData,
    UsageToReport,
    check_usage_complete,
    parse_usage_data,
    render_usage_data,
    usage_callback_body,
    usage_data_file_name,
)
from licence_gateway.domain.chief.validator import (
    FileProblem,
    LicenceDataInvalid,
    is_uk_postcode,
    validate_licence_data_file,
)

__all__ = [
    "CHIEF_LICENCE_TYPE",
    "DEFAULT_SOURCE_SYSTEM",
    "ChiefFormatError",
    "CutField",
    "FakeReply",
    "FileError",
    "FileProblem",
    "LicenceDataFile",
    "LicenceDataInvalid",
    "LicenceDataSummary",
    "LicenceNotBuildable",
    "LicenceReply",
    "LicenceTransaction",
    "LicenceUsage",
    "RejectedTransaction",
    "ReplyError",
    "ReplyOutcome",
    "UnknownReference",
    "UsageData",
    "UsageToReport",
    "build_licence_data",
    "callback_json",
    "check_licence_data",
    "check_usage_complete",
    "fake_licence_reply",
    "file_timestamp",
    "is_uk_postcode",
    "licence_data_file_name",
    "licence_reply_file_name",
    "parse_licence_reply",
    "parse_usage_data",
    "read_licence_data",
    "render_licence_reply",
    "render_usage_data",
    "reply_callback_body",
    "reply_mismatch",
    "reply_summary",
    "to_ascii",
    "usage_callback_body",
    "usage_data_file_name",
    "validate_licence_data_file",
]
