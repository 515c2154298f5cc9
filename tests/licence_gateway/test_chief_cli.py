"""`licence-gateway chief build | parse-reply | parse-usage`: exact stdout; refusals are one JSON
line on stderr and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from licence_gateway.cli import main
from licence_gateway.domain.chief import to_ascii, validate_licence_data_file

FIXTURES = Path(__file__).parent / "fixtures" / "icms-hmrc"
GOLDEN = sorted(
    [
        *(FIXTURES / "icms" / "licence_data_files").glob("*.json"),
        FIXTURES / "derived" / "licence_data" / "recreate_run_124.json",
    ]
)


def chief(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["chief", *map(str, args)], catch_exceptions=False)


def write_bodies(tmp_path: Path, bodies: list[Any]) -> Path:
    path = tmp_path / "bodies.json"
    path.write_text(json.dumps(bodies))
    return path


def refusal(result: Result) -> dict[str, Any]:
    assert result.exit_code == 2
    assert result.stdout_bytes == b""
    [line] = result.stderr.splitlines()
    error: dict[str, Any] = json.loads(line)
    return error


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_build_prints_the_golden_file_exactly(path: Path, tmp_path: Path) -> None:
    vector = json.loads(path.read_text())
    expected = (path.parent / vector["expected_output_file"]).read_bytes().replace(b"\r\n", b"\n")
    bodies = write_bodies(tmp_path, vector["requests"])
    for flag in ([], ["--attachment"]):  # the goldens are ASCII: both outputs are the file
        result = chief(
            "build",
            "--run-number",
            str(vector["run_number"]),
            "--timestamp",
            vector["created_at_utc"],
            "--source-system",
            vector["chief_source_system"],
            *flag,
            bodies,
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == expected
        assert result.stderr == ""


def golden_bodies(name: str = "fa_oil_insert") -> list[dict[str, Any]]:
    vector = json.loads((FIXTURES / "icms" / "licence_data_files" / f"{name}.json").read_text())
    requests: list[dict[str, Any]] = vector["requests"]
    return requests


def build(tmp_path: Path, bodies: list[Any], *extra: str) -> Result:
    return chief(
        "build",
        "--run-number",
        "5",
        "--timestamp",
        "2024-07-01T10:11:00+01:00",
        *extra,
        write_bodies(tmp_path, bodies),
    )


def test_build_uses_utc_and_the_default_source_system(tmp_path: Path) -> None:
    result = build(tmp_path, golden_bodies())
    assert result.stdout.startswith(
        "1\\fileHeader\\ILBDOTI\\CHIEF\\licenceData\\202407010911\\5\\N\n"
    )


def test_build_prints_utf8_text_or_the_ascii_attachment(tmp_path: Path) -> None:
    bodies = golden_bodies()
    bodies[0]["licence"]["organisation"]["name"] = "Société Générale"
    text = build(tmp_path, bodies)
    assert "\\Société Générale\\".encode() in text.stdout_bytes
    attachment = build(tmp_path, bodies, "--attachment")
    assert b"\\Societe Generale\\" in attachment.stdout_bytes
    assert attachment.stdout_bytes.isascii()


def test_build_accepts_what_the_original_accepted_and_its_attachment_passes_the_validator(
    tmp_path: Path,
) -> None:
    """Issue 18.1: untrimmed lengths and transliteration growth; the text stays the original's."""
    bodies = golden_bodies()
    organisation = bodies[0]["licence"]["organisation"]
    organisation["name"] = "€" * 30  # 30 characters, 90 once transliterated
    organisation["address"]["line_1"] = "Straße " * 5  # 35, and 40 in ASCII
    organisation["address"]["postcode"] = " S11 8ZZ "  # 9 raw, 7 as the original measured it
    bodies[0]["licence"]["restrictions"] = "…" * 2000
    text = build(tmp_path, bodies)
    assert text.exit_code == 0, text.stderr
    assert "\\" + "€" * 30 + "\\" in text.stdout and "\\ S11 8ZZ \n" in text.stdout
    attachment = build(tmp_path, bodies, "--attachment")
    assert attachment.exit_code == 0, attachment.stderr
    assert validate_licence_data_file(attachment.stdout) == []
    assert validate_licence_data_file(to_ascii(text.stdout)) != []  # what an uncut file would be
    assert "\\" + "EUR" * 26 + "EU\\" in attachment.stdout
    assert "\\restrictions\\" + "." * 2000 + "\n" in attachment.stdout


def test_build_refuses_an_invalid_body_naming_index_and_field(tmp_path: Path) -> None:
    bodies = golden_bodies("fa_dfl_insert")
    bodies[1]["licence"]["organisation"]["address"]["postcode"] = "75001"
    error = refusal(build(tmp_path, bodies))
    assert error["index"] == 1
    assert list(error["errors"]["licence"]) == ["organisation.address.postcode"]


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        ([{"nolicence": {}}], {"licence": "This field is required."}),
        (["text"], "the body must be a JSON object"),
        ([{"licence": {"type": "OIL", "action": "update"}}], None),
        ([{"licence": []}], None),
    ],
)
def test_build_refuses_bodies_the_api_refuses(
    tmp_path: Path, bodies: list[Any], expected: Any
) -> None:
    error = refusal(build(tmp_path, bodies))
    assert error["index"] == 0
    if expected is not None:
        assert error["errors"] == expected


def test_build_stores_an_identical_repeat_once_and_refuses_a_conflicting_one(
    tmp_path: Path,
) -> None:
    bodies = golden_bodies()
    once = build(tmp_path, bodies).stdout_bytes
    assert build(tmp_path, bodies + bodies).stdout_bytes == once
    changed = json.loads(json.dumps(bodies))
    changed[0]["licence"]["restrictions"] = "other"
    assert refusal(build(tmp_path, bodies + changed))["index"] == 1
    floats = golden_bodies("sanction_insert")
    as_float = json.loads(json.dumps(floats))
    as_float[0]["licence"]["goods"][0]["quantity"] = 26710.0  # prints differently from 26710
    assert refusal(build(tmp_path, floats + as_float))["index"] == 1


def test_build_refuses_a_file_the_validator_fails(tmp_path: Path) -> None:
    error = refusal(build(tmp_path, golden_bodies(), "--source-system", "CHIEF"))
    assert error["problems"][0]["message"] == "Source and destination are the same"
    assert build(tmp_path, golden_bodies(), "--source-system", "SPIRE").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--run-number", "x", "--timestamp", "2024-01-01T00:00"],
        ["--run-number", "0", "--timestamp", "2024-01-01T00:00"],
        ["--run-number", "1", "--timestamp", "yesterday"],
    ],
)
def test_build_refuses_bad_options(tmp_path: Path, args: list[str]) -> None:
    refusal(chief("build", *args, write_bodies(tmp_path, [])))


def test_build_refuses_unreadable_input(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "object.json").write_text("{}")
    for name in ("bad.json", "object.json", "missing.json"):
        refusal(
            chief("build", "--run-number", "1", "--timestamp", "2024-01-01T00:00", tmp_path / name)
        )


# --- parse-reply / parse-usage ---------------------------------------------------------------


def test_parse_reply_prints_the_summary() -> None:
    result = chief(
        "parse-reply", FIXTURES / "icms" / "licence_reply" / "accepted_and_rejected_example"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "run_number": "29236",
        "outcome": "valid",
        "accepted": ["ABC12345", "ABC12346", "ABC12348"],
        "rejected": [
            {
                "reference": "ABC12347",
                "errors": [
                    {"error_code": "1234", "error_msg": "Invalid thingy"},
                    {"error_code": "76543", "error_msg": "Invalid commodity “1234A6” in line 23"},
                ],
            }
        ],
        "file_errors": [],
    }


@pytest.mark.parametrize(
    ("name", "outcome"),
    [("file_error_only", "invalid"), ("file_error_and_trailer_mismatch", "invalid")],
)
def test_parse_reply_outcomes(name: str, outcome: str) -> None:
    result = chief("parse-reply", FIXTURES / "derived" / "licence_reply" / name)
    assert json.loads(result.stdout)["outcome"] == outcome


def test_parse_reply_malformed_is_one_line_naming_the_line() -> None:
    error = refusal(
        chief("parse-reply", FIXTURES / "derived" / "licence_reply" / "unknown_record_type")
    )
    assert error == {"error": "Unable to process file: Unknown field_type on line 2", "line": 2}


def test_parse_usage_prints_the_callback_body_exactly() -> None:
    vector = json.loads(
        (
            FIXTURES
            / "derived"
            / "usage_to_icms"
            / "ILBDOTI_live_CHIEF_usageData_7132_202209280300.json"
        ).read_text()
    )
    result = chief("parse-usage", FIXTURES / vector["usage_file"])
    assert result.stdout == vector["expected_post_body_text"] + "\n"


def test_parse_usage_refuses_a_malformed_file(tmp_path: Path) -> None:
    (tmp_path / "usage").write_text(
        "1\\fileHeader\\CHIEF\\ILBDOTI\\usageData\\1\\1\n2\\fileTrailer\\3\n"
    )
    assert refusal(chief("parse-usage", tmp_path / "usage"))["line"] == 2


def test_parse_refuses_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1").write_bytes("1\\accepted\\é".encode("latin-1"))
    refusal(chief("parse-reply", tmp_path / "latin1"))


def test_the_installed_command_keeps_stdout_clean(tmp_path: Path) -> None:
    """Through the real entry point: exact bytes on stdout, the JSON error alone on stderr."""
    command = [sys.executable, "-c", "from licence_gateway.cli import main; main()", "chief"]
    ok = subprocess.run(
        [
            *command,
            "build",
            "--run-number",
            "1",
            "--timestamp",
            "2022-01-01T10:11:00",
            write_bodies(tmp_path, golden_bodies("fa_sil_cancel")),
        ],
        capture_output=True,
        check=False,
        env={"PATH": "/usr/bin", "LC_ALL": "C"},
    )
    assert ok.returncode == 0, ok.stderr
    expected = (FIXTURES / "icms" / "licence_data_files" / "fa_sil_cancel").read_bytes()
    assert ok.stdout == expected.replace(b"\r\n", b"\n")
    bad = subprocess.run(
        [*command, "parse-reply", FIXTURES / "derived" / "licence_reply" / "end_out_of_sequence"],
        capture_output=True,
        check=False,
    )
    assert (bad.returncode, bad.stdout) == (2, b"")
    assert json.loads(bad.stderr)["line"] == 2
