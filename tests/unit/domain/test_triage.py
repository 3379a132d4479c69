"""Triage on real-looking social texts: a priority and the reasons an agent reads."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.triage import PRIORITIES, CustomerSnapshot, triage

REGULAR = CustomerSnapshot(followers=250, complaints_before=3)
NEWCOMER = CustomerSnapshot(followers=250, complaints_before=0)


def test_an_angry_refund_tweet_is_urgent_with_its_reasons() -> None:
    result = triage("@AcmeHelp I was charged twice and still no refund. Absolutely useless!!",
                    REGULAR, channel="public", first_turn=False)
    assert result.priority == "urgent"
    assert result.reasons[:3] == ("keyword: charged twice", "keyword: refund", "very negative")
    assert "public post" in result.reasons


def test_a_thank_you_dm_is_low() -> None:
    result = triage("Thanks so much, that fixed it. Great support!", REGULAR,
                    channel="private", first_turn=False)
    assert (result.priority, result.reasons) == ("low", ())


def test_an_outage_complaint_is_high_even_when_vader_misreads_it() -> None:
    # VADER scores this +0.37 ("can't" flips "Terrible"): the keywords carry it.
    result = triage("Your app is down again and I can't log in. Terrible.", REGULAR,
                    channel="private", first_turn=False)
    assert result.priority == "high"
    assert result.reasons == ("keyword: down", "keyword: can't log in")


def test_a_legal_threat_is_at_least_high_even_when_calm() -> None:
    result = triage("I will be contacting my lawyer about this contract.", REGULAR,
                    channel="private", first_turn=False)
    assert result.priority == "high"
    assert result.reasons[0] == "keyword: lawyer"


def test_a_neutral_question_is_normal() -> None:
    result = triage("Hi, what time do you open on Saturday?", NEWCOMER, channel="private",
                    first_turn=True)
    assert result.priority == "low"
    assert result.reasons == ("first-time complainer",)


def test_a_first_complaint_from_a_high_reach_account_is_urgent() -> None:
    result = triage("Hmm, my parcel is late.", CustomerSnapshot(followers=48_000,
                                                                 complaints_before=0),
                    channel="public", first_turn=True)
    assert result.priority == "urgent"
    assert result.reasons == ("reach 48k", "first-time complainer", "public post")


def test_the_same_account_complaining_again_is_not_automatically_urgent() -> None:
    result = triage("Hmm, my parcel is late.", CustomerSnapshot(followers=48_000,
                                                                 complaints_before=4),
                    channel="public", first_turn=False)
    assert result.priority == "normal"
    assert "first-time complainer" not in result.reasons


def test_sarcasm_with_a_keyword_is_still_seen() -> None:
    result = triage("Oh great, another 'refund in 5 days' that never comes. Love it.",
                    REGULAR, channel="public", first_turn=False)
    assert result.priority == "high"  # VADER reads it as positive; the keyword does not
    assert result.reasons == ("keyword: refund", "public post")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=280), st.integers(min_value=0, max_value=10_000_000) | st.none(),
       st.integers(min_value=0, max_value=50), st.sampled_from(["public", "private"]),
       st.booleans())
def test_triage_is_deterministic_bounded_and_sms_sized(text, followers, before, channel,
                                                       first) -> None:
    snapshot = CustomerSnapshot(followers=followers, complaints_before=before)
    result = triage(text, snapshot, channel=channel, first_turn=first)
    assert result.priority in PRIORITIES
    assert all(len(r) <= 24 for r in result.reasons)
    assert triage(text, snapshot, channel=channel, first_turn=first) == result
