"""Diagnosing a channel: silence against its own rhythm in business time, credentials, bad
signatures, and when each is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.channel_health import (
    AlertPolicy,
    ChannelState,
    Verdict,
    diagnose,
    down_message,
    may_page,
    recovered_message,
    route_silence,
    signature_incident,
    silence_threshold,
)

ALWAYS = BusinessCalendar.parse("UTC", "24x7")
OFFICE = BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
LEARNED = ChannelState(channel="whatsapp", last_event_at=NOW - timedelta(minutes=30),
                       events=200, longest_gap=timedelta(minutes=20))


def test_a_channel_silent_three_times_its_longest_gap_is_down() -> None:
    assert silence_threshold(LEARNED, None) == timedelta(hours=1)
    assert diagnose(LEARNED, NOW, ALWAYS) is None
    quiet = replace(LEARNED, last_event_at=NOW - timedelta(minutes=61))
    verdict = diagnose(quiet, NOW, ALWAYS)
    assert verdict is not None and verdict.kind == "silent"
    assert verdict.summary == "no events for 1h01m of business time (alert after 1h)"


def test_without_enough_history_nothing_is_guessed_unless_configured() -> None:
    young = replace(LEARNED, events=5, last_event_at=NOW - timedelta(days=2))
    assert silence_threshold(young, None) is None
    assert diagnose(young, NOW, ALWAYS) is None
    assert diagnose(young, NOW, ALWAYS, timedelta(hours=4)) is not None


def test_a_busy_channel_still_gets_the_floor_not_a_hair_trigger() -> None:
    busy = replace(LEARNED, longest_gap=timedelta(seconds=40))
    assert silence_threshold(busy, None) == timedelta(minutes=15)


def test_nights_and_weekends_do_not_count_as_silence() -> None:
    friday_evening = datetime(2026, 11, 27, 16, 50, tzinfo=UTC)
    monday_morning = datetime(2026, 11, 30, 9, 20, tzinfo=UTC)
    weekend = replace(LEARNED, last_event_at=friday_evening)
    assert diagnose(weekend, monday_morning, OFFICE) is None  # 30 business minutes
    assert diagnose(weekend, monday_morning, ALWAYS) is not None  # 64 hours on a 24x7 team


def test_a_refused_token_is_down_until_a_send_goes_through() -> None:
    broken = replace(LEARNED, problem="unhealthy", problem_at=NOW - timedelta(minutes=5),
                     problem_detail="x: token rejected (401)",
                     last_send_ok_at=NOW - timedelta(hours=1))
    assert diagnose(broken, NOW, ALWAYS) == Verdict("auth", "unhealthy: x: token rejected (401)")
    assert diagnose(replace(broken, last_event_at=NOW), NOW, ALWAYS) is not None  # still down
    assert diagnose(replace(broken, last_send_ok_at=NOW), NOW, ALWAYS) is None


def test_a_revoked_app_is_back_when_its_events_are() -> None:
    revoked = replace(LEARNED, problem="revoked", problem_at=NOW - timedelta(minutes=5))
    assert diagnose(revoked, NOW, ALWAYS) is not None
    assert diagnose(replace(revoked, last_event_at=NOW), NOW, ALWAYS) is None


POLICY = AlertPolicy(signature_failures=5, signature_over=timedelta(minutes=10))
RUN = replace(LEARNED, last_event_at=NOW - timedelta(minutes=30),
              last_verified_at=NOW - timedelta(minutes=30),
              bad_first_at=NOW - timedelta(minutes=12), bad_last_at=NOW - timedelta(minutes=1),
              bad_count=8)


def test_a_sustained_run_of_bad_signatures_with_nothing_verified_is_down() -> None:
    assert signature_incident(RUN, POLICY)
    verdict = diagnose(RUN, NOW, ALWAYS, policy=POLICY)
    assert verdict is not None and verdict.kind == "signature_failures"
    assert verdict.summary.startswith("8 deliveries failed their signature, none verified")


def test_a_verified_delivery_during_the_run_means_the_secret_works() -> None:
    for verified in (NOW - timedelta(minutes=5), NOW):
        assert not signature_incident(replace(RUN, last_verified_at=verified), POLICY)
        assert diagnose(replace(RUN, last_verified_at=verified), NOW, ALWAYS,
                        policy=POLICY) is None
        assert diagnose(replace(RUN, last_event_at=verified), NOW, ALWAYS,
                        policy=POLICY) is None


def test_a_short_burst_of_junk_is_not_an_incident_however_many() -> None:
    burst = replace(RUN, bad_first_at=NOW - timedelta(minutes=3), bad_count=5000)
    assert not signature_incident(burst, POLICY)
    # nor a few failures long ago on a quiet channel, then nothing: the run must last
    probe = replace(RUN, bad_first_at=NOW - timedelta(hours=3),
                    bad_last_at=NOW - timedelta(hours=3) + timedelta(seconds=20))
    assert not signature_incident(probe, POLICY)


def test_too_few_failures_are_not_an_incident_however_long() -> None:
    assert not signature_incident(replace(RUN, bad_count=4), POLICY)
    assert signature_incident(replace(RUN, bad_count=4), AlertPolicy(signature_failures=4))


# A quiet channel with an hourly rhythm: its silence threshold is 3 hours.
ONE_AM = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
HOURLY = ChannelState(channel="x", last_event_at=ONE_AM, last_verified_at=ONE_AM, events=200,
                      longest_gap=timedelta(hours=1))


def test_five_junk_posts_over_eleven_minutes_at_night_on_an_hourly_channel_are_no_incident(
        ) -> None:
    silence = silence_threshold(HOURLY, None)
    assert silence == timedelta(hours=3)
    night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    junk = replace(HOURLY, bad_first_at=night, bad_last_at=night + timedelta(minutes=11),
                   bad_count=5)
    assert signature_incident(junk, POLICY)  # enough by count and time alone...
    assert not signature_incident(junk, POLICY, silence, ALWAYS)  # ...not past the rhythm
    assert diagnose(junk, night + timedelta(minutes=15), ALWAYS, policy=POLICY,
                    signature_silence=silence) is None


def test_a_rotated_secret_is_an_incident_once_the_failures_outlast_the_silence_threshold(
        ) -> None:
    silence = timedelta(hours=3)
    # Deliveries every 20 minutes since 01:00, every one failing: the channel went quiet.
    rotated = replace(HOURLY, bad_first_at=ONE_AM + timedelta(minutes=20), bad_count=9)
    for quiet, down in ((timedelta(hours=3), False), (timedelta(hours=3, minutes=20), True)):
        run = replace(rotated, bad_last_at=ONE_AM + quiet)
        assert signature_incident(run, POLICY, silence, ALWAYS) is down
        verdict = diagnose(run, ONE_AM + quiet, ALWAYS, policy=POLICY, signature_silence=silence)
        assert (verdict.kind if verdict else None) == ("signature_failures" if down else None)
    # Business time, as silence is counted: a night outside office hours does not count.
    office_night = replace(rotated, bad_last_at=ONE_AM + timedelta(hours=5))
    assert not signature_incident(office_night, POLICY, silence, OFFICE)


def test_a_webhook_routes_silence_is_the_shortest_of_its_platforms() -> None:
    states = {"whatsapp": replace(LEARNED, longest_gap=timedelta(minutes=40)),
              "messenger": replace(LEARNED, channel="messenger", longest_gap=timedelta(hours=2)),
              "meta": ChannelState(channel="meta")}
    assert route_silence("meta", states, {}) == timedelta(hours=2)
    assert route_silence("meta", states, {"messenger": timedelta(hours=1)}) == timedelta(hours=1)
    assert route_silence("x", states, {}) is None  # nothing learned yet: count and time only
    assert route_silence("x", states, {"x": timedelta(hours=4)}) == timedelta(hours=4)


def test_the_old_in_memory_problem_alone_no_longer_pages() -> None:
    failing = replace(LEARNED, problem="signature_failures",
                      problem_at=NOW - timedelta(minutes=1))
    assert diagnose(failing, NOW, ALWAYS) is None


def test_a_channel_pages_at_most_once_a_period() -> None:
    policy = AlertPolicy(page_every=timedelta(hours=1))
    assert may_page(LEARNED, NOW, policy)
    assert not may_page(replace(LEARNED, last_paged_at=NOW - timedelta(minutes=59)), NOW,
                        policy)
    assert may_page(replace(LEARNED, last_paged_at=NOW - timedelta(hours=1)), NOW, policy)


def test_admin_alerts_fit_one_sms_with_one_link() -> None:
    link = "https://abc123.execute-api.eu-west-1.amazonaws.com/api/health"
    verdict = diagnose(replace(LEARNED, last_event_at=NOW - timedelta(hours=30)), NOW, ALWAYS)
    assert verdict is not None
    for subject, sms in (down_message("instagram", verdict, link),
                         recovered_message("instagram", NOW - timedelta(hours=2), NOW, link)):
        assert len(sms) <= 160 and sms.count("https://") == 1 and sms.endswith(link)
        assert "instagram" in subject
