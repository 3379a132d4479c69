"""Every published payload in tests/fixtures is exercised by a parser test, and keeps its
source line in tests/fixtures/SOURCES.md."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "fixtures"
PLATFORMS = ("twitter", "messenger", "facebook", "instagram", "whatsapp")


def test_every_platform_fixture_is_used_by_a_parser_test_and_has_a_source() -> None:
    tests = "\n".join(p.read_text() for p in HERE.glob("test_*_parser.py"))
    sources = (FIXTURES / "SOURCES.md").read_text()
    files = [p for platform in PLATFORMS for p in (FIXTURES / platform).glob("*.json")]
    assert len(files) == 59
    unused = [p.name for p in files if p.name not in tests and p.stem not in tests]
    assert unused == []
    unsourced = [p.name for p in files if p.name not in sources]
    # pywa files are listed by group in SOURCES.md ("pywa_status_sent.json, ..."), restfb and
    # docs files one per row: every name appears verbatim either way.
    assert unsourced == []
