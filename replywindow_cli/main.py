"""replywindow inbox | show ID | reply ID TEXT [--private] | ack URL-or-TOKEN | report | oncall
| teams AGENT TEAM... | channels | doctor

Talks to the API of a running stack: `--api` (default $REPLYWINDOW_API or the local stack)
with `--token` (default $REPLYWINDOW_TOKEN, else $REPLYWINDOW_ADMIN_TOKEN, else the local
stack's dev default).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

console = Console()


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}{path}", timeout=30, headers={
            "Authorization": f"Bearer {self.token}"}, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        if not response.ok:
            raise SystemExit(f"{response.status_code}: {body.get('error', body)}")
        return body


def _left(seconds: Any) -> str:
    if seconds is None:
        return "-"
    sign = "" if seconds >= 0 else "-"
    minutes, secs = divmod(abs(int(seconds)), 60)
    return f"{sign}{minutes}m{secs:02d}s"


def inbox(api: Api, args: argparse.Namespace) -> None:
    params = {"status": args.status, **({"team": args.team} if args.team else {})}
    page = api("GET", "/api/conversations", params=params)
    table = Table(title=f"Inbox ({args.status}) of {page.get('team') or 'no team'}")
    for column in ("id", "customer", "priority", "time left", "reasons", "assignee"):
        table.add_column(column)
    for c in page["conversations"]:
        # Found by listening: the customer never tagged the brand (the reasons column says so).
        reasons = [*(["found by listening"] if c.get("found_by_listening") else []),
                   *c["reasons"]]
        table.add_row(c["id"], "@" + str(c["customer"].get("handle") or c["customer"]["id"]),
                      str(c["priority"]), _left(c["seconds_left"]),
                      ", ".join(reasons), str(c["assignee"] or "-"))
    console.print(table)


def show(api: Api, args: argparse.Namespace) -> None:
    c = api("GET", f"/api/conversations/{args.id}")
    console.print(f"[bold]{c['id']}[/bold] {c['status']} {c['priority']} "
                  f"left {_left(c['seconds_left'])}")
    for m in c["messages"]:
        who = "brand" if m["direction"] == "out" else "customer"
        console.print(f"  {m['created_at']} {who}: {m['text']}")


def reply(api: Api, args: argparse.Namespace) -> None:
    sent = api("POST", f"/api/conversations/{args.id}/replies",
               json={"text": args.text, "private": args.private})
    console.print(f"sent {sent['message']['id']} by {sent['message']['route']}; "
                  f"conversation {sent['conversation']['status']}")


def ack(api: Api, args: argparse.Namespace) -> None:
    token = args.link.rstrip("/").rsplit("/", 1)[-1]
    # A POST, like the page's button: opening the link (GET) only shows the alert.
    response = requests.post(f"{api.base}/ack/{token}", timeout=30)
    console.print(f"{response.status_code}: "
                  f"{'acknowledged' if response.ok else 'link not valid'}")


def report(api: Api, args: argparse.Namespace) -> None:
    params = {k: v for k, v in (("from", args.start), ("to", args.end), ("team", args.team))
              if v}
    r = api("GET", "/api/reports/sla", params=params)
    table = Table(title=f"SLA {r['from']} .. {r['to']}")
    for column in ("group", "turns", "met", "breached", "attainment", "first p50", "first p90"):
        table.add_column(column)

    def row(name: str, s: dict[str, Any]) -> None:
        first = s["first_response_seconds"]
        attainment = "-" if s["attainment"] is None else f"{s['attainment']:.0%}"
        table.add_row(name, str(s["turns"]), str(s["met"]), str(s["breached"]), attainment,
                      _left(first["p50"]), _left(first["p90"]))

    row("overall", r["overall"])
    for dimension, groups in r["by"].items():
        for name, s in groups.items():
            row(f"{dimension}: {name}", s)
    console.print(table)
    gap = r["fairness"]["gap"]
    console.print(f"fairness gap (public - private attainment): "
                  f"{'-' if gap is None else f'{gap:+.0%}'}")
    if r.get("texts_failed"):
        console.print(f"alert texts SNS reported failed: {r['texts_failed']} "
                      "(each followed by an email)")


def oncall(api: Api, args: argparse.Namespace) -> None:
    now = api("GET", f"/api/teams/{args.team or 'support'}/oncall")
    for line in oncall_lines(now):
        console.print(line, markup=False, highlight=False)


def oncall_lines(now: dict[str, Any]) -> list[str]:
    """Who is on call, who is next, and each one's channels; an agent with no confirmed
    channel is flagged, because an alert to them reaches nobody."""
    lines = [f"{now['team']}: primary {now['primary']}, secondary {now['secondary']}, "
             f"lead {now['lead']}"]
    then = now.get("then")
    if then:
        lines.append(f"from {str(now['changes_at'])[:16].replace('T', ' ')} UTC: primary "
                     f"{then['primary']}, secondary {then['secondary']}")
    unreachable = set(now.get("unreachable") or ())
    for agent, channels in (now.get("channels") or {}).items():
        shown = ", ".join(f"{c['protocol']} {c.get('endpoint') or ''} {c['state']}"
                          .replace("  ", " ") for c in channels) or "no subscription"
        flag = "  UNREACHABLE: no confirmed channel" if agent in unreachable else ""
        lines.append(f"  {agent}: {shown}{flag}")
    return lines


def teams(api: Api, args: argparse.Namespace) -> None:
    done = api("PUT", f"/api/agents/{args.agent}/teams", json={"teams": args.teams})
    console.print(f"{done['agent']}: {', '.join(done['teams']) or 'no team'}")


def dlq(api: Api, args: argparse.Namespace) -> None:
    if args.redrive:
        done = api("POST", f"/api/dlq/{args.queue}/redrive")
        console.print(f"redrove {done['redriven']} message(s) to {args.queue}")
        return
    found = api("GET", f"/api/dlq/{args.queue}")["messages"]
    table = Table(title=f"Dead letters of {args.queue} ({len(found)})")
    for column in ("id", "receives", "group", "body"):
        table.add_column(column)
    for m in found:
        table.add_row(m["id"], str(m["received"]), str(m["group"] or "-"), m["body"][:80])
    console.print(table)


def channels(api: Api, args: argparse.Namespace) -> None:
    health = api("GET", "/health")  # with our token: only the admin's shows the channels
    if "channels" not in health:
        raise SystemExit("channel health needs the admin token (--token or "
                         "REPLYWINDOW_ADMIN_TOKEN)")
    found = health["channels"]
    if "error" in found:
        console.print(f"channel health unavailable: {found['error']}")
        return
    table = Table(title="Channels")
    for column in ("channel", "state", "last event", "last send ok", "silence alert after",
                   "incident since", "undeclared accounts (not stored)"):
        table.add_column(column)
    for name, c in sorted(found.items()):
        after = c.get("silence_alert_after_s")
        unknown = c.get("unknown_accounts") or {}
        named = f"{name} ({c['account_name']})" if c.get("account_name") else name
        table.add_row(named, c["state"] + (f" ({c['detail']})" if c.get("detail") else ""),
                      c.get("last_event_at") or "-", c.get("last_send_ok_at") or "-",
                      _left(after) if after else "learning", c.get("incident_since") or "-",
                      ", ".join(f"{a}: {n}" for a, n in unknown.items()) or "-")
    console.print(table)


def doctor(api: Api, args: argparse.Namespace) -> None:
    """What could let an alert go missing, in one look: dead letters waiting, ReplyWindow's
    own alarms, the alarm clock's failed executions, SNS's SMS sandbox and spend, the
    channels."""
    health = api("GET", "/health")
    if "dead_letters" not in health:
        raise SystemExit("doctor needs the admin token (--token or REPLYWINDOW_ADMIN_TOKEN)")
    trouble: list[str] = []
    table = Table(title="ReplyWindow doctor")
    for column in ("check", "state"):
        table.add_column(column)

    def row(check: str, state: str, bad: bool) -> None:
        table.add_row(check, f"[red]{state}[/red]" if bad else state)
        if bad:
            trouble.append(check)

    def unreadable(part: Any) -> str | None:
        return part["error"] if isinstance(part, dict) and "error" in part else None

    letters = health["dead_letters"]
    if unreadable(letters):
        row("dead letters", unreadable(letters) or "", True)
    else:
        for queue, depth in sorted(letters.items()):
            row(f"dead letters: {queue}", f"{depth} waiting (replywindow dlq {queue})"
                if depth else "none", depth > 0)
    alarms = health["alarms"]
    if unreadable(alarms):
        row("alarms", unreadable(alarms) or "", True)
    else:
        for alarm in sorted(alarms, key=lambda a: a["name"]):
            row(f"alarm: {alarm['name']}", alarm["state"], alarm["state"] == "ALARM")
    clock = health["alarm_clock"]
    if unreadable(clock):
        row("alarm clock", unreadable(clock) or "", True)
    else:
        failed = sum(clock.values())
        row("alarm clock executions", ", ".join(f"{n} {k.replace('_', ' ')}"
                                                for k, n in clock.items()), failed > 0)
    for sms in health.get("sms_checks", []):
        row(sms["check"], sms["state"], sms["bad"])
    channels_ = health.get("channels", {})
    if unreadable(channels_):
        row("channels", unreadable(channels_) or "", True)
    else:
        for name, c in sorted(channels_.items()):
            row(f"channel: {name}", c["state"], c["state"] not in ("ok", "learning"))
    console.print(table)
    console.print(f"Needs attention: {', '.join(trouble)}" if trouble else "All clear.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="replywindow", description=__doc__.splitlines()[0])
    parser.add_argument("--api", default=os.environ.get("REPLYWINDOW_API",
                                                        "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("REPLYWINDOW_TOKEN") or os.environ.get(
        "REPLYWINDOW_ADMIN_TOKEN", "dev-admin-token"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inbox", help="conversations in deadline order")
    p.add_argument("--team")
    p.add_argument("--status", default="awaiting_agent")
    p = sub.add_parser("show", help="one conversation with its messages")
    p.add_argument("id")
    p = sub.add_parser("reply", help="reply on the customer's platform")
    p.add_argument("id")
    p.add_argument("text")
    p.add_argument("--private", action="store_true", help="by DM")
    p = sub.add_parser("ack", help="acknowledge from an alert link")
    p.add_argument("link")
    p = sub.add_parser("report", help="SLA report")
    p.add_argument("--from", dest="start")
    p.add_argument("--to", dest="end")
    p.add_argument("--team")
    p = sub.add_parser("oncall", help="who is on call now")
    p.add_argument("--team")
    p = sub.add_parser("teams", help="set an agent's teams (admin)")
    p.add_argument("agent")
    p.add_argument("teams", nargs="*")
    p = sub.add_parser("dlq", help="list (or --redrive) a dead-letter queue")
    p.add_argument("queue", choices=["inbound", "alerts"])
    p.add_argument("--redrive", action="store_true")
    sub.add_parser("channels", help="each channel's health: silent, failing, revoked?")
    sub.add_parser("doctor", help="dead letters, ReplyWindow's own alarms, failed timers")
    args = parser.parse_args(argv)
    commands = {"inbox": inbox, "show": show, "reply": reply, "ack": ack, "report": report,
                "oncall": oncall, "teams": teams, "dlq": dlq, "channels": channels,
                "doctor": doctor}
    commands[args.command](Api(args.api, args.token), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
