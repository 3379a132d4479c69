"""The self-watch overview as rows (console channels page, admins): what needs attention is
marked, and a part AWS would not give is shown as unreadable, never as all clear."""

from __future__ import annotations

from typing import Any

from chalicelib.services.self_watch import checks, overview, sms_rows


class Watch:
    def dead_letters(self) -> dict[str, int]:
        return {"inbound": 0, "alerts": 2}

    def alarms(self) -> list[dict[str, Any]]:
        raise ConnectionError("CloudWatch is down")

    def failed_executions(self) -> dict[str, int]:
        return {"failed": 1, "timed_out": 0, "aborted": 0}

    def sms(self) -> dict[str, Any]:
        return {"sandbox": True, "spend_limit_usd": 1.0, "spent_usd": 0.85}


def test_what_needs_attention_is_marked_and_an_unreadable_part_is_not_all_clear() -> None:
    rows = {r["check"]: (r["state"], r["bad"]) for r in checks(overview(Watch()))}
    assert rows == {
        "dead letters: alerts": ("2 waiting (replywindow dlq alerts)", True),
        "dead letters: inbound": ("none", False),
        "alarms": ("unavailable (ConnectionError)", True),
        "alarm clock executions": ("1 failed, 0 timed out, 0 aborted", True),
        "sms sandbox": ("in the sandbox: texts reach verified numbers only (README, deploy)",
                        True),
        "sms spend this month": ("$0.85 of $1.00 (texts stop at the limit: raise it)", True),
    }


def test_sms_out_of_the_sandbox_and_under_the_limit_is_clear() -> None:
    rows = {r["check"]: (r["state"], r["bad"])
            for r in sms_rows({"sandbox": False, "spend_limit_usd": 50.0, "spent_usd": 39.99})}
    assert rows == {"sms sandbox": ("out of the sandbox", False),
                    "sms spend this month": ("$39.99 of $50.00", False)}


def test_an_emulator_without_the_calls_shows_unknown_not_trouble() -> None:
    rows = {r["check"]: (r["state"], r["bad"])
            for r in sms_rows({"sandbox": "unknown (InvalidAction)", "spend_limit_usd": 1.0,
                               "spent_usd": "unknown (AccessDenied)"})}
    assert rows == {"sms sandbox": ("unknown (InvalidAction)", False),
                    "sms spend this month": ("unknown (AccessDenied) of $1.00", False)}


def test_an_unreadable_sms_part_is_trouble() -> None:
    class Broken(Watch):
        def sms(self) -> dict[str, Any]:
            raise ConnectionError("SNS is down")

    rows = {r["check"]: (r["state"], r["bad"]) for r in checks(overview(Broken()))}
    assert rows["sms"] == ("unavailable (ConnectionError)", True)


def test_the_months_failed_texts_show_among_the_sms_rows() -> None:
    from chalicelib.services.self_watch import checks, sms_rows

    assert sms_rows(None, {"this_month": 0}) == [
        {"check": "sms failed this month", "state": "none", "bad": False}]
    failed = sms_rows({"sandbox": False}, {"this_month": 3})
    assert {"check": "sms failed this month", "bad": True,
            "state": "3 text(s) failed, each followed by an email"} in failed
    assert any(r["check"] == "sms failed this month" and r["bad"]
               for r in checks({"sms_failed": {"error": "unavailable (StoreUnavailable)"}}))
