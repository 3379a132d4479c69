"""`make demo`: a scripted hour of social customer care, compressed into about a minute.

Customers write on X, Messenger, Instagram, Facebook and WhatsApp; the brand answers some of
them natively (echoes) in time and misses others. Watch the live board, every alert as the
on-call agent's phone shows it, then a one-screen summary.

Uses the stack on http://127.0.0.1:8000 if one is running (start it with
`REPLYWINDOW_POLICIES=infrastructure/local/demo_policies.yaml make run` for seconds-long
windows); otherwise starts its own, with those policies.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from chalicelib.adapters.dynamodb.records import META
from chalicelib.domain.redaction import conversation_label, hide_phones
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.runtime import ROOT, LocalRuntime, LocalSettings

DEMO_POLICIES = Path(__file__).with_name("demo_policies.yaml")
BRAND_X, PAGE, IG, WA_PHONE = "1111111111111111111", "1000000001", "17841400000001", "1500001"


@dataclass
class Step:
    at: float  # seconds after the start
    label: str
    body: dict[str, Any]
    platform: str  # "x" or "meta"


@dataclass
class Board:
    started: float = field(default_factory=time.monotonic)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


def _now_ms() -> int:
    return int(time.time() * 1000)


def x_post(post: str, author: str, handle: str, followers: int, text: str,
          reply_to: tuple[str, str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": post, "author_id": author, "text": text,
                               "created_at": datetime.now(UTC).isoformat(),
                               "entities": {"mentions": [{"id": BRAND_X}]}}
    if reply_to:  # the brand answering publicly, in the customer's thread
        payload.update(in_reply_to_tweet_id=reply_to[0], in_reply_to_user_id=reply_to[1])
    return {"data": {"filter": {"user_id": BRAND_X},
                     "event_type": "post.reply.create" if reply_to else "post.mention.create",
                     "payload": payload,
                     "includes": {"users": [{"id": author, "username": handle, "name": handle,
                                             "public_metrics": {"followers_count":
                                                                followers}}]}}}


def messenger_message(psid: str, text: str, *, echo: bool = False) -> dict[str, Any]:
    sender, recipient = (PAGE, psid) if echo else (psid, PAGE)
    message: dict[str, Any] = {"mid": f"m_{uuid.uuid4().hex}", "text": text}
    if echo:
        message["is_echo"] = True
    return {"object": "page", "entry": [{"id": PAGE, "time": _now_ms(), "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": _now_ms(),
         "message": message}]}]}


def _instagram_comment(comment: str, user: str, handle: str, text: str,
                       parent: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"id": comment, "text": text, "from": {"id": user,
                                                                  "username": handle},
                             "media": {"id": "1790000001"}}
    if parent:
        value["parent_id"] = parent
    return {"object": "instagram", "entry": [{"id": IG, "time": _now_ms(), "changes": [
        {"field": "comments", "value": value}]}]}


def whatsapp_message(number: str, name: str, text: str) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001", "phone_number_id": WA_PHONE},
            "contacts": [{"profile": {"name": name}, "wa_id": number}],
            "messages": [{"from": number, "id": f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}


def script() -> list[Step]:
    run = str(int(time.time()))
    maria, big, brand_reply = f"1{run}001", f"1{run}002", f"1{run}003"
    lena, brand_comment = f"17{run}01", f"17{run}02"
    return [
        Step(0, "@maria_g on X: charged twice (nobody answers)", x_post(
            maria, "2001", "maria_g", 850, "@AcmeHelp you charged me twice and no refund "
            "yet. Useless."), "x"),
        Step(1, "Tom on Messenger: can't log in", messenger_message(
            "3001", "Hi, I can't log in to my account since this morning"), "meta"),
        Step(2, "Priya on WhatsApp: where is my order", whatsapp_message(
            "447700900001", "Priya", "Where is my order #4411? It said Tuesday"), "meta"),
        Step(4, "Brand answers Tom in Messenger (echo, in time)", messenger_message(
            "3001", "Sorry Tom! Resetting your access now.", echo=True), "meta"),
        Step(5, "@bigvoice (120k followers) first complaint", x_post(
            big, "2002", "bigvoice", 120_000, "@AcmeHelp my delivery is late, what's going "
            "on?"), "x"),
        Step(7, "@lena.k on Instagram: broken item", _instagram_comment(
            lena, "4001", "lena.k", "Mine arrived broken, who do I talk to?"), "meta"),
        Step(8, "Brand replies to @bigvoice on X (in time)", x_post(
            brand_reply, BRAND_X, "AcmeHelp", 50_000, "@bigvoice so sorry, DM us your order "
            "number and we'll chase it now", reply_to=(big, "2002")), "x"),
        Step(9, "Ahmed on WhatsApp: thanks", whatsapp_message(
            "447700900002", "Ahmed", "Thanks, all sorted now!"), "meta"),
        Step(11, "Brand replies under @lena.k's comment (in time)", _instagram_comment(
            brand_comment, IG, "acme", "So sorry Lena, we've sent you a DM", parent=lena),
            "meta"),
        Step(12, "Tom again: still locked out (nobody answers)", messenger_message(
            "3001", "Still locked out. This is the third time this month, cancel my plan"),
            "meta"),
    ]


class Demo:
    def __init__(self, webhooks: str, aws: str, secrets: dict[str, str]) -> None:
        self.webhooks, self.secrets = webhooks, secrets
        self.ddb = boto3.client("dynamodb", endpoint_url=aws, region_name="us-east-1")
        self.outbox = Path(os.environ.get("REPLYWINDOW_STATE_DIR", ROOT / ".replywindow")) / (
            "outbox.jsonl")
        self.board = Board()
        self.seen_alerts = self._outbox_lines()

    def _outbox_lines(self) -> int:
        return len(self.outbox.read_text().splitlines()) if self.outbox.exists() else 0

    def post(self, step: Step) -> int:
        body = json.dumps(step.body).encode()
        if step.platform == "x":
            url = f"{self.webhooks}/webhooks/x"
            header = {"x-twitter-webhooks-signature": x_signature(
                self.secrets["x_consumer_secret"], body)}
        else:
            url = f"{self.webhooks}/webhooks/meta"
            header = {"X-Hub-Signature-256": meta_signature(
                self.secrets["meta_app_secret"], body)}
        return requests.post(url, data=body, timeout=10,
                             headers={"Content-Type": "application/json", **header}).status_code

    def conversations(self) -> list[dict[str, Any]]:
        items = self.ddb.scan(TableName="replywindow-dev", FilterExpression="SK = :m",
                              ExpressionAttributeValues={":m": {"S": META}})["Items"]
        return [{k: next(iter(v.values())) for k, v in i.items()} for i in items]

    def new_alerts(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        lines = self.outbox.read_text().splitlines()
        fresh = [json.loads(line) for line in lines[self.seen_alerts:] if line]
        self.seen_alerts = len(lines)
        return fresh

    def view(self) -> Group:
        table = Table(title="ReplyWindow - live board", expand=True)
        for column in ("conversation", "customer", "priority", "status", "due", "alerts"):
            table.add_column(column)
        now = datetime.now(UTC)
        counts: dict[str, list[str]] = {}
        for alert in self.board.alerts:
            counts.setdefault(alert.get("conversation") or "", []).append(alert["level"])
        for c in sorted(self.conversations(), key=lambda c: c.get("created_at", "")):
            due = c.get("due_at")
            left = "-" if not due or c["status"] != "awaiting_agent" else (
                f"{(datetime.fromisoformat(due) - now).total_seconds():+.0f}s")
            customer = c.get("customer", {})
            who = customer.get("handle", {}).get("S") if isinstance(customer, dict) else None
            # Alerts name a conversation by its label (a WhatsApp number hashed).
            levels = sorted(set(counts.get(conversation_label(c["id"]), [])))
            style = {"awaiting_agent": "yellow", "awaiting_customer": "green"}.get(
                c["status"], "")
            table.add_row(c["id"][:34], str(who or "-"), str(c.get("priority", "...")),
                          f"[{style}]{c['status']}[/{style}]", left, ", ".join(levels))
        phones = [Panel(a["text"], title=f"{a['to']} ({a['level']})", width=60)
                  for a in self.board.alerts[-3:] if a["protocol"] == "sms"]
        log = "\n".join(self.board.sent[-8:])
        return Group(table, Panel(log or "...", title="webhooks sent"), *phones)

    def run(self, console: Console, settle: float = 30.0) -> dict[str, int]:
        steps = sorted(script(), key=lambda s: s.at)
        ends = steps[-1].at + settle  # the last step, then time for its alerts
        start = time.monotonic()
        with Live(self.view(), console=console, refresh_per_second=2) as live:
            while time.monotonic() - start < ends:
                elapsed = time.monotonic() - start
                while steps and steps[0].at <= elapsed:
                    step = steps.pop(0)
                    status = self.post(step)
                    self.board.sent.append(f"{elapsed:5.1f}s  {step.label}  -> {status}")
                for alert in self.new_alerts():
                    self.board.alerts.append(alert)
                    self._maybe_acknowledge(alert, elapsed)
                live.update(self.view())
                time.sleep(0.5)
        return self.summary(console)

    def _maybe_acknowledge(self, alert: dict[str, Any], elapsed: float) -> None:
        """The agent on call for Priya opens the link in the warning and taps Acknowledge: no
        escalation follows."""
        conversation = alert.get("conversation") or ""
        if alert["protocol"] != "sms" or alert["level"] != "warning" or (
                hide_phones("447700900001") not in conversation):
            return
        link = re.search(r"https?://\S+/ack/\S+", alert["text"])
        if link:
            # Opening the link shows the alert; its Acknowledge button POSTs to the same URL.
            status = requests.post(link.group(0), timeout=10).status_code
            self.board.sent.append(f"{elapsed:5.1f}s  {alert['to']} taps the ack link "
                                   f"for Priya -> {status}")

    def summary(self, console: Console) -> dict[str, int]:
        conversations = self.conversations()
        sms = [a for a in self.board.alerts if a["protocol"] == "sms"]
        answered = [c for c in conversations if c["status"] == "awaiting_customer"]
        breached = {a["conversation"] for a in sms if a["level"] == "breach"}
        figures = {
            "conversations": len(conversations),
            "alerts sent (SMS)": len(sms),
            "warnings": sum(a["level"] == "warning" for a in sms),
            "breaches": sum(a["level"] == "breach" for a in sms),
            "escalations": sum(a["level"] == "escalation" for a in sms),
            "answered in time": sum(conversation_label(c["id"]) not in breached
                                    for c in answered),
            "acknowledged": sum(bool(c.get("acked_by")) for c in conversations),
            "breached": len(breached),
        }
        table = Table(title="Summary")
        table.add_column("what")
        table.add_column("count", justify="right")
        for name, value in figures.items():
            table.add_row(name, str(value))
        console.print(table)
        return figures



def main(say: Callable[[str], None] = print) -> int:
    console = Console()
    api = "http://127.0.0.1:8000"
    webhooks = f"http://127.0.0.1:{os.environ.get('REPLYWINDOW_WEBHOOK_PORT', '8001')}"
    runtime: LocalRuntime | None = None
    try:
        requests.get(f"{api}/health", timeout=1)
        console.print("Using the stack already running on :8000 (its policies decide the "
                      "windows).")
        secrets = {"x_consumer_secret": os.environ.get("REPLYWINDOW_X_CONSUMER_SECRET",
                                                       "dev-x-consumer-secret"),
                   "meta_app_secret": os.environ.get("REPLYWINDOW_META_APP_SECRET",
                                                     "dev-meta-app-secret")}
        aws = "http://127.0.0.1:5000"
    except requests.ConnectionError:
        os.environ["REPLYWINDOW_POLICIES"] = str(DEMO_POLICIES)
        settings = LocalSettings.from_env()
        runtime = LocalRuntime(settings, say=lambda _: None)
        runtime.start()
        secrets = runtime.seeded
        aws, webhooks = runtime.aws.endpoint, runtime.webhook_url
        console.print("Started a local stack with the demo's seconds-long windows.")
    if runtime is not None:
        api = runtime.api_url
    console.print(f"Console: {api}/console (sign in at {api}/console/sign-in with the admin "
                  "token) shows the inbox, alerts and reports while the hour plays.")
    try:
        Demo(webhooks, aws, secrets).run(console)
    finally:
        if runtime is not None:
            runtime.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
