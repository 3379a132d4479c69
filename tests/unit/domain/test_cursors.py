"""Signed inbox cursors: only a cursor we minted, for the same query, opens."""

from __future__ import annotations

from chalicelib.domain.cursors import open_cursor, sign

KEY = "ack-key"
SUPPORT = "support\nawaiting_agent"


def test_a_cursor_opens_for_the_query_it_was_minted_for() -> None:
    cursor = sign(KEY, SUPPORT, "eyJQSyI6IDF9")
    assert open_cursor(KEY, SUPPORT, cursor) == "eyJQSyI6IDF9"


def test_a_cursor_does_not_open_for_another_team_status_or_key() -> None:
    cursor = sign(KEY, SUPPORT, "eyJQSyI6IDF9")
    assert open_cursor(KEY, "social\nawaiting_agent", cursor) is None
    assert open_cursor(KEY, "support\nresolved", cursor) is None
    assert open_cursor("another-key", SUPPORT, cursor) is None


def test_an_edited_unsigned_or_keyless_cursor_does_not_open() -> None:
    cursor = sign(KEY, SUPPORT, "eyJQSyI6IDF9")
    position, _, signature = cursor.rpartition(".")
    assert open_cursor(KEY, SUPPORT, f"eyJQSyI6IDJ9.{signature}") is None
    assert open_cursor(KEY, SUPPORT, position) is None
    assert open_cursor(KEY, SUPPORT, "." + signature) is None
    assert open_cursor("", SUPPORT, sign("", SUPPORT, position)) is None
