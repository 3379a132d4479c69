"""The self-watch overview as rows (console channels page, admins): what needs attention is
marked, and a part AWS would not give is shown as unreadable, never as all clear."""

from __future__ import annotations

from typing import Any

from chalicelib.services.self_watch import checks, overview


class Watch:
    def dead_letters(self) -> dict[str, int]:
        return {"inbound": 0, "alerts": 2}

    def alarms(self) -> list[dict[str, Any]]:
        raise ConnectionError("CloudWatch is down")

    def failed_executions(self) -> dict[str, int]:
        return {"failed": 1, "timed_out": 0, "aborted": 0}


def test_what_needs_attention_is_marked_and_an_unreadable_part_is_not_all_clear() -> None:
    rows = {r["check"]: (r["state"], r["bad"]) for r in checks(overview(Watch()))}
    assert rows == {
        "dead letters: alerts": ("2 waiting (replywindow dlq alerts)", True),
        "dead letters: inbound": ("none", False),
        "alarms": ("unavailable (ConnectionError)", True),
        "alarm clock executions": ("1 failed, 0 timed out, 0 aborted", True),
    }
