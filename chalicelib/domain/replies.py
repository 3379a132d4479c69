"""Replying on the customer's own platform: which route a reply takes, and the platform rules
that forbid one, checked up front so the agent gets the reason instead of a platform error.

- X self-serve: a public reply only when the customer summoned the brand (mentioned it or
  quoted its post); otherwise the DM route is offered.
- Meta (Messenger, Instagram DMs): replies within 24 h of the customer's last message; up to
  7 days with the HUMAN_AGENT tag when the Page has that permission; otherwise refused.
- WhatsApp: within the 24-hour customer-service window; outside it only a template may be sent.
- Instagram mentions (found by listening): a public comment under the comment or caption
  that mentioned the account (Graph API `POST /{ig-user-id}/mentions`); no private reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.conversations import Conversation
from chalicelib.domain.errors import ReplyRefused
from chalicelib.domain.events import Channel, Platform

MESSAGING_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MENTION = "mention-"  # the thread of an Instagram mention (chalicelib/webhooks/meta_parser.py)
MAX_LENGTH = {Platform.X: 280, Platform.MESSENGER: 2000, Platform.INSTAGRAM: 1000,
              Platform.FACEBOOK: 8000, Platform.WHATSAPP: 4096}


@dataclass(frozen=True)
class ReplyRoute:
    """How to send: `kind` is one of public_reply, dm, comment_reply, private_reply,
    mention_reply (then `recipient` is the media the account was mentioned on, and
    `comment_id` the mentioning comment, none for a caption mention)."""

    platform: Platform
    kind: str
    recipient: str  # tweet id to answer, user id, comment id or WhatsApp number
    brand_id: str
    tag: str | None = None  # Meta message tag when outside the 24-hour window
    comment_id: str | None = None  # Instagram mention: the comment that mentioned the account


def route(c: Conversation, *, text: str, private: bool, now: datetime,
          human_agent: bool = False) -> ReplyRoute:
    if not text.strip():
        raise ReplyRefused("a reply needs some text")
    limit = MAX_LENGTH[c.platform]
    if len(text) > limit:
        raise ReplyRefused(f"{c.platform.value} allows {limit} characters; this is {len(text)}")
    if c.platform is Platform.X:
        return _x(c, private)
    if c.platform is Platform.WHATSAPP:
        _inside(c, now, MESSAGING_WINDOW, "WhatsApp's 24-hour customer-service window has "
                "closed: only an approved template message can be sent now")
        return ReplyRoute(c.platform, "dm", c.customer.id, c.brand_id)
    if c.platform is Platform.INSTAGRAM and c.thread.startswith(MENTION):
        return _instagram_mention(c, private)
    if c.channel is Channel.PUBLIC:  # a Facebook or Instagram comment thread
        target = c.last_customer_message_id or c.thread.removeprefix("c-")
        if private:
            # Meta's private replies: one DM to the commenter, within 7 days of the comment.
            _inside(c, now, HUMAN_AGENT_WINDOW, "a private reply to a comment is allowed "
                    "within 7 days of it")
            return ReplyRoute(c.platform, "private_reply", target, c.brand_id)
        return ReplyRoute(c.platform, "comment_reply", target, c.brand_id)
    waited = now - (c.last_customer_at or now)
    if waited <= MESSAGING_WINDOW:
        return ReplyRoute(c.platform, "dm", c.customer.id, c.brand_id)
    if not human_agent:
        raise ReplyRefused("Meta's 24-hour messaging window has closed (the customer last "
                           "wrote over 24 h ago); this Page has no human-agent permission")
    _inside(c, now, HUMAN_AGENT_WINDOW, "Meta's messaging window has closed: more than 7 days "
            "since the customer's last message (the human-agent tag allows 7 days)")
    return ReplyRoute(c.platform, "dm", c.customer.id, c.brand_id, tag="HUMAN_AGENT")


def _x(c: Conversation, private: bool) -> ReplyRoute:
    if private or c.channel is Channel.PRIVATE:
        return ReplyRoute(Platform.X, "dm", c.customer.id, c.brand_id)
    if not c.summoned:
        found = " (this post was found by listening)" if c.found_by_listening else ""
        raise ReplyRefused("X allows a public reply only when the customer mentioned or "
                           f"quoted the brand{found}; reply by DM instead "
                           "({\"private\": true}) if the customer accepts DMs")
    if not c.last_customer_message_id:
        raise ReplyRefused("no customer tweet to reply to")
    return ReplyRoute(Platform.X, "public_reply", c.last_customer_message_id, c.brand_id)


def _instagram_mention(c: Conversation, private: bool) -> ReplyRoute:
    """The thread names the mention (meta_parser): `mention-<media>` for a caption,
    `mention-<media>_<comment>` for a comment; Instagram's reply call needs both ids."""
    if private:
        raise ReplyRefused("Instagram allows no private reply to a mention: the reply is a "
                           "public comment under the comment or caption that mentioned you")
    media, _, comment = c.thread.removeprefix(MENTION).partition("_")
    return ReplyRoute(Platform.INSTAGRAM, "mention_reply", media, c.brand_id,
                      comment_id=comment or None)


def _inside(c: Conversation, now: datetime, window: timedelta, reason: str) -> None:
    if c.last_customer_at is None or now - c.last_customer_at > window:
        raise ReplyRefused(reason)


@dataclass(frozen=True)
class ReplyAdvice:
    """What a reply box should tell the agent before they write: the platform's length limit,
    whether the reply goes privately (X offers the DM when a public reply is not allowed),
    and whether a reply can be sent at all now, with the rule in words."""

    limit: int
    private: bool
    allowed: bool
    rule: str
    closes_at: datetime | None = None  # when the messaging window closes, where one applies


def advise(c: Conversation, now: datetime, *, human_agent: bool = False) -> ReplyAdvice:
    """The rules `route` will apply, checked before the agent writes (same code path)."""
    limit = MAX_LENGTH[c.platform]
    dm_instead = c.platform is Platform.X and c.channel is Channel.PUBLIC and not c.summoned
    try:
        chosen = route(c, text="-", private=dm_instead, now=now, human_agent=human_agent)
    except ReplyRefused as refused:
        return ReplyAdvice(limit, dm_instead, False, str(refused))
    windowed = chosen.kind == "dm" and c.platform is not Platform.X
    closes = (c.last_customer_at + (HUMAN_AGENT_WINDOW if chosen.tag else MESSAGING_WINDOW)
              if windowed and c.last_customer_at else None)
    if dm_instead:
        rule = ("The customer did not mention the brand, so X allows no public reply: "
                "this reply goes as a direct message.")
    elif c.platform is Platform.WHATSAPP:
        rule = "WhatsApp's 24-hour customer-service window is open."
    elif windowed:
        rule = ("Meta's 24-hour messaging window is open." if not chosen.tag else
                "Meta's 24-hour window has closed; the human-agent tag allows 7 days.")
    else:
        rule = {"public_reply": "A public reply to the customer's post.",
                "comment_reply": "A public reply to the customer's comment.",
                "mention_reply": ("A public comment under the comment or caption that "
                                  "mentioned the account (Instagram allows no private "
                                  "reply to a mention)."),
                "dm": "A direct message."}.get(chosen.kind, "")
    return ReplyAdvice(limit, dm_instead, True, f"{rule} At most {limit} characters.", closes)
