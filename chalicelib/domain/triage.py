"""Triage: a priority and the reasons for it, from the text and who wrote it.

Deterministic and explainable, no network. Points add up; the priority follows the total:

| signal                                             | points |
|----------------------------------------------------|--------|
| VADER compound <= -0.5 (strongly negative)         | +2     |
| VADER compound <= -0.05 (negative)                 | +1     |
| keyword: legal / safety (lawyer, sue, GDPR, ...)   | +3     |
| keyword: outage, money or churn (per family)       | +1.5   |
|   ... with negative sentiment / each extra keyword | +0.5   |
| reach >= 100k followers                            | +2     |
| reach >= 10k followers                             | +1     |
| first-time complainer with reach >= 10k            | urgent (*)   |
| public post                                        | +0.5 (everyone is watching) |
| positive (>= 0.5) and no keyword                   | low    |

(*) "Fear the complainer who has never complained before but is active on social media."
Total >= 4 urgent, >= 2 high, >= 0.5 normal, otherwise low; never below normal when there
is a keyword, never above urgent. Reasons are short (SMS-sized), most important first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

PRIORITIES = ("low", "normal", "high", "urgent")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "legal": ("lawyer", "legal", "sue", "suing", "lawsuit", "ombudsman", "regulator",
              "gdpr", "data breach", "unsafe", "injury", "injured", "trading standards",
              "small claims"),
    "outage": ("outage", "down", "not working", "doesn't work", "can't log in",
               "cannot log in", "can't login", "broken", "crash", "crashes", "error"),
    "money": ("refund", "chargeback", "charged twice", "overcharged", "double charged",
              "money back", "billing", "scam"),
    "churn": ("cancel", "cancelling", "canceling", "cancellation", "switching to",
              "close my account", "leaving", "unsubscribe"),
}
_PATTERNS = {family: re.compile(r"(?<![\w])#?(" + "|".join(re.escape(w) for w in words)
                                + r")(?![\w])", re.IGNORECASE)
             for family, words in KEYWORDS.items()}


@dataclass(frozen=True)
class CustomerSnapshot:
    followers: int | None
    complaints_before: int  # complaints before this one


@dataclass(frozen=True)
class Triage:
    priority: str
    reasons: tuple[str, ...]
    sentiment: float  # VADER compound, -1..1


@cache
def _analyzer() -> Any:
    # The lexicon loads once per container, on first use: import time stays small.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    return float(_analyzer().polarity_scores(text)["compound"]) if text.strip() else 0.0


def _reach(followers: int) -> str:
    return f"{followers // 1_000_000}M" if followers >= 1_000_000 else f"{followers // 1000}k"


def triage(text: str, customer: CustomerSnapshot, *, channel: str,
           first_turn: bool) -> Triage:
    compound = sentiment(text)
    score = 0.0
    reasons: list[tuple[float, str]] = []  # (weight for ordering, reason)
    if compound <= -0.5:
        score += 2
        reasons.append((2, "very negative"))
    elif compound <= -0.05:
        score += 1
        reasons.append((1, "negative sentiment"))
    families: list[str] = []
    for family, pattern in _PATTERNS.items():
        words = list(dict.fromkeys(m.group(1).lower() for m in pattern.finditer(text)))
        if not words:
            continue
        families.append(family)
        weight = (3.0 if family == "legal" else 1.5) + (0.5 if compound <= -0.05 else 0)
        weight += 0.5 * (len(words) - 1)  # "down" and "can't log in": more evidence
        score += weight
        for word in words[:2]:
            reasons.append((weight + 0.1, f"keyword: {word}"[:24]))
    followers = customer.followers or 0
    if followers >= 100_000:
        score += 2
        reasons.append((2.5, f"reach {_reach(followers)}"))
    elif followers >= 10_000:
        score += 1
        reasons.append((1.5, f"reach {_reach(followers)}"))
    first_time = customer.complaints_before == 0 and first_turn
    if first_time:
        reasons.append((0.5, "first-time complainer"))
    if channel == "public":
        score += 0.5
        reasons.append((0.2, "public post"))
    if first_time and followers >= 10_000:
        priority = "urgent"
    elif compound >= 0.5 and not families:
        priority = "low"
    elif score >= 4:
        priority = "urgent"
    elif score >= 2:
        priority = "high"
    elif score >= 0.5 or families:
        priority = "normal"
    else:
        priority = "low"
    ordered = tuple(r for _, r in sorted(reasons, key=lambda wr: -wr[0]))
    return Triage(priority=priority, reasons=ordered, sentiment=compound)
