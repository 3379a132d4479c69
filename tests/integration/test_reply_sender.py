"""The idempotent reply sender (chalicelib/adapters/platforms/reply_sender.py) on the real
powertools records in the emulated table: a key sends once, a reply that may be out is never
sent again, a key reused for another reply is refused, and a refused post can be retried."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.platforms.reply_sender import IdempotentReplySender, idempotency_config
from chalicelib.domain.errors import (
    IdempotencyKeyReused,
    PlatformFailed,
    ReplyMaybeSent,
    ReplyRefused,
)
from chalicelib.domain.events import Platform
from chalicelib.domain.replies import ReplyRoute
from infrastructure.local.aws import Built

DM = ReplyRoute(platform=Platform.X, kind="dm", recipient="42", brand_id="7")


class Platform_:
    """The platform's side: each post is counted; `answers` says what the next ones do."""

    def __init__(self, *answers: Callable[[], str]) -> None:
        self.answers, self.posts = list(answers), 0

    def __call__(self, route: ReplyRoute, text: str) -> str:
        self.posts += 1
        return self.answers.pop(0)() if self.answers else f"sent-{self.posts}"


def _sender(platform: Callable[[ReplyRoute, str], str]) -> IdempotentReplySender:
    return IdempotentReplySender(platform, bootstrap.dynamodb(), bootstrap.settings().table,
                                 idempotency_config())


def test_a_key_sends_once_and_a_retry_gets_the_first_answer(aws: Built) -> None:
    platform = Platform_()
    sender = _sender(platform)
    assert sender.send(DM, "hello", "k1") == "sent-1"
    assert sender.send(DM, "hello", "k1") == "sent-1"
    assert platform.posts == 1
    assert sender.send(DM, "hello", "k2") == "sent-2"


def test_the_record_keeps_the_name_it_had_in_bootstrap(aws: Built) -> None:
    """A retry across the deploy that moved the sender must still find its record."""
    _sender(Platform_()).send(DM, "hello", "k1")
    items = bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]
    prefix = (f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}"
              ".chalicelib.bootstrap.reply_sender.<locals>.send_reply#")
    keys = [i["SK"]["S"] for i in items if i["PK"]["S"].startswith("idempotency#")]
    assert len(keys) == 1 and keys[0].startswith(prefix), keys


def test_a_key_reused_for_another_reply_is_refused_and_nothing_is_posted(aws: Built) -> None:
    platform = Platform_()
    sender = _sender(platform)
    sender.send(DM, "hello", "k1")
    with pytest.raises(IdempotencyKeyReused, match="use a new key"):
        sender.send(DM, "something else", "k1")
    with pytest.raises(IdempotencyKeyReused):
        sender.send(ReplyRoute(Platform.X, "public_reply", "99", "7"), "hello", "k1")
    assert platform.posts == 1


def test_a_reply_that_may_be_out_is_never_posted_again(aws: Built) -> None:
    def timed_out() -> str:
        raise ReplyMaybeSent("x", "read timed out", timed_out=True)

    platform = Platform_(timed_out)
    sender = _sender(platform)
    for _ in range(2):
        with pytest.raises(ReplyMaybeSent) as unsure:
            sender.send(DM, "hello", "k1")
        assert (unsure.value.channel, unsure.value.detail, unsure.value.timed_out) == (
            "x", "read timed out", True)
    assert platform.posts == 1


def test_a_refused_post_can_be_retried_with_the_same_key(aws: Built) -> None:
    def refused() -> str:
        raise PlatformFailed("x", "503 from the platform")

    platform = Platform_(refused)
    sender = _sender(platform)
    with pytest.raises(PlatformFailed):
        sender.send(DM, "hello", "k1")
    assert sender.send(DM, "hello", "k1") == "sent-2"


def test_the_same_key_while_its_send_is_under_way_is_refused(aws: Built) -> None:
    refused: list[Exception] = []

    def meanwhile() -> str:
        try:
            sender.send(DM, "hello", "k1")  # the same request, arriving during the post
        except ReplyRefused as error:
            refused.append(error)
        return "sent-once"

    platform = Platform_(meanwhile)
    sender = _sender(platform)
    assert sender.send(DM, "hello", "k1") == "sent-once"
    assert [str(e) for e in refused] == ["this reply is already being sent"]
    assert platform.posts == 1
