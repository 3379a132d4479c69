"""Sending a reply on the customer's platform: X (OAuth 1.0a user context through
requests-oauthlib), Messenger and Instagram (Send API with the page token), Facebook and
Instagram comment replies, Instagram mention replies (`POST /{ig-user-id}/mentions`), and
WhatsApp (Cloud API). Base URLs come from configuration so a
test or an emulator can stand in for the platform."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from requests_oauthlib import OAuth1Session

from chalicelib.adapters.platforms.calls import Budget, call
from chalicelib.adapters.secrets import PlatformSecrets
from chalicelib.domain.errors import BadPlatformId, NotConfigured, PlatformFailed, ReplyRefused
from chalicelib.domain.events import Platform
from chalicelib.domain.policies import Policies
from chalicelib.domain.replies import ReplyRoute

# The published shapes of the ids we put in a URL: X's are 64-bit numbers; Graph API object ids
# (Page, Instagram user, WhatsApp phone number, comment) are numbers, and a Facebook comment's
# is `<post>_<comment>`. Anything else (`../me`, `1/..`, `1?x=`) would reach another endpoint.
_X_ID = re.compile(r"[0-9]{1,20}")
_META_ID = re.compile(r"[0-9]{1,32}(?:_[0-9]{1,32})?")


def _path_id(value: str, shape: re.Pattern[str], what: str) -> str:
    """The id, percent-encoded for a URL path, or BadPlatformId before any request."""
    if not shape.fullmatch(value):
        raise BadPlatformId(f"cannot reply: the {what} {value[:40]!r} is not of the "
                            "platform's id shape")
    return quote(value, safe="")


def _no_accounts() -> Policies | None:
    return None


class PlatformSenders:
    """`policies` declares the brand's accounts: a reply then leaves as the account the
    customer wrote to (`route.brand_id`), with that account's credentials only. With none
    declared, the secret's one token per platform is used, as for a single-account brand."""

    def __init__(self, secrets: Callable[[], PlatformSecrets], x_api_url: str,
                 graph_api_url: str, sleep: Callable[[float], None] | None = None,
                 budget: Budget | None = None,
                 policies: Callable[[], Policies | None] = _no_accounts) -> None:
        self.secrets, self.x_api, self.graph = secrets, x_api_url, graph_api_url
        self.policies = policies
        self._extra: dict[str, Any] = {"budget": budget or Budget()}
        if sleep:
            self._extra["sleep"] = sleep

    def send(self, route: ReplyRoute, text: str) -> str:
        """The platform's id of the sent message."""
        if route.platform is Platform.X:
            return self._x(route, text)
        if route.platform is Platform.WHATSAPP:
            return self._whatsapp(route, text)
        return self._meta(route, text)

    def _credential(self, route: ReplyRoute, role: str, single: str) -> str:
        """The credential `role` of the account the route leaves from: the declared account's
        own key in the secret, never another account's nor the single-account one."""
        policies = self.policies()
        if policies is None or not policies.accounts:
            return single
        account = policies.account(route.platform.value, route.brand_id)
        if account is None:
            raise ReplyRefused(f"the conversation's {route.platform.value} account "
                               f"{route.brand_id[:40]!r} is not declared in the policies "
                               "file: no reply leaves through another account")
        name = account.credentials[role]
        value = self.secrets().accounts.get(name, "")
        if not value:
            raise NotConfigured(f"{account.label}: set {name} in the platform secret")
        return value

    def _x(self, route: ReplyRoute, text: str) -> str:
        s = self.secrets()
        session = OAuth1Session(
            s.x_consumer_key, client_secret=s.x_consumer_secret,  # the app: one per brand
            resource_owner_key=self._credential(route, "access_token", s.x_access_token),
            resource_owner_secret=self._credential(route, "access_secret",
                                                   s.x_access_token_secret))
        if route.kind == "public_reply":
            tweet = _path_id(route.recipient, _X_ID, "X post id")
            data = call(session, "POST", f"{self.x_api}/2/tweets", channel="x", json={
                "text": text, "reply": {"in_reply_to_tweet_id": tweet}}, **self._extra)
            return _id(data, "data", "id", channel="x")
        user = _path_id(route.recipient, _X_ID, "X user id")
        data = call(session, "POST", f"{self.x_api}/2/dm_conversations/with/{user}/messages",
                    channel="x", json={"text": text}, **self._extra)
        return _id(data, "data", "dm_event_id", channel="x")

    def _meta(self, route: ReplyRoute, text: str) -> str:
        channel = route.platform.value
        if route.kind == "mention_reply":
            return self._instagram_mention(route, text)
        if route.kind == "comment_reply":
            comment = _path_id(route.recipient, _META_ID, f"{channel} comment id")
            edge = "replies" if route.platform is Platform.INSTAGRAM else "comments"
            data = call(self._graph_session(self._credential(
                route, "page_token", self.secrets().meta_page_token)), "POST",
                        f"{self.graph}/{comment}/{edge}", channel=channel,
                        json={"message": text}, **self._extra)
            return _id(data, "id", channel=channel)
        recipient = ({"comment_id": route.recipient} if route.kind == "private_reply"
                     else {"id": route.recipient})
        body: dict[str, Any] = {"recipient": recipient, "message": {"text": text},
                                "messaging_type": "MESSAGE_TAG" if route.tag else "RESPONSE"}
        if route.tag:
            body["tag"] = route.tag
        sender = "me" if route.platform is not Platform.INSTAGRAM else _path_id(
            route.brand_id, _META_ID, "Instagram account id")
        data = call(self._graph_session(self._credential(
                route, "page_token", self.secrets().meta_page_token)), "POST",
                    f"{self.graph}/{sender}/messages", channel=channel, json=body,
                    **self._extra)
        return _id(data, "message_id", channel=channel)

    def _instagram_mention(self, route: ReplyRoute, text: str) -> str:
        """A comment as the mentioned account, under the comment (or the caption) that
        mentioned it, with that account's own (Page) token."""
        account = _path_id(route.brand_id, _META_ID, "Instagram account id")
        body = {"media_id": _path_id(route.recipient, _META_ID, "Instagram media id"),
                "message": text}
        if route.comment_id:  # a comment mention; a caption one is answered on the media
            body["comment_id"] = _path_id(route.comment_id, _META_ID, "Instagram comment id")
        data = call(self._graph_session(self._credential(
            route, "page_token", self.secrets().meta_page_token)), "POST",
                    f"{self.graph}/{account}/mentions", channel="instagram", json=body,
                    **self._extra)
        return _id(data, "id", channel="instagram")

    def _whatsapp(self, route: ReplyRoute, text: str) -> str:
        phone = _path_id(route.brand_id, _META_ID, "WhatsApp phone number id")
        data = call(self._graph_session(
            self._credential(route, "token", self.secrets().whatsapp_token)), "POST",
                    f"{self.graph}/{phone}/messages",
                    channel="whatsapp", json={"messaging_product": "whatsapp",
                                              "to": route.recipient, "type": "text",
                                              "text": {"body": text}}, **self._extra)
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id"))
        raise PlatformFailed("whatsapp", "accepted the reply but returned no message id")

    @staticmethod
    def _graph_session(token: str) -> requests.Session:
        # The token in a header, never the query string: URLs end up in proxy and access logs.
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session


def _id(data: dict[str, Any], *path: str, channel: str) -> str:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not value:
        raise PlatformFailed(channel, "accepted the reply but returned no message id")
    return str(value)
