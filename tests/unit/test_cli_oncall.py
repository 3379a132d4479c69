"""`replywindow oncall` prints each on-call agent's channels and flags the unreachable."""

from __future__ import annotations

from replywindow_cli.main import oncall_lines


def test_the_unreachable_agent_is_flagged_and_the_next_shift_shown() -> None:
    lines = oncall_lines({
        "team": "support", "primary": "alice", "secondary": None, "lead": "erin",
        "changes_at": "2026-03-03T09:00:00+00:00",
        "then": {"primary": "bob", "secondary": None},
        "channels": {"alice": [{"protocol": "sms", "state": "confirmed", "endpoint": "…001"}],
                     "bob": [{"protocol": "email", "state": "pending",
                              "endpoint": "b…@example.com"}],
                     "erin": []},
        "unreachable": ["bob", "erin"]})
    assert lines == [
        "support: primary alice, secondary None, lead erin",
        "from 2026-03-03 09:00 UTC: primary bob, secondary None",
        "  alice: sms …001 confirmed",
        "  bob: email b…@example.com pending  UNREACHABLE: no confirmed channel",
        "  erin: no subscription  UNREACHABLE: no confirmed channel"]
