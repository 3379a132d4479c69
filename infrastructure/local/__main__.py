"""`python -m infrastructure.local` (what `make run` calls): run until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from infrastructure.local.runtime import LocalRuntime, LocalSettings


def say(text: str) -> None:
    print(text, flush=True)


def _admin_token_hint(token: str) -> str:
    """The dev default is no secret (it is printed above too); a token the user set stays
    theirs: never printed, and never put in a URL."""
    if token.startswith("dev-"):
        return f"paste the token {token}"
    return "paste the REPLYWINDOW_ADMIN_TOKEN you set"


def main() -> int:
    settings = LocalSettings.from_env()
    started = time.monotonic()
    say("ReplyWindow local stack starting…")
    runtime = LocalRuntime(settings, say=say)
    runtime.start()
    built = runtime.built
    say(f"ReplyWindow is running ({time.monotonic() - started:.1f}s to start):")
    say(f"  API            {runtime.api_url}  (try {runtime.api_url}/health)")
    say(f"  console        {runtime.api_url}/console")
    say(f"  sign in        {runtime.api_url}/console/sign-in  as the local admin: "
        f"{_admin_token_hint(runtime.seeded.get('admin_token', ''))}")
    say(f"  webhooks       {runtime.webhook_url}/webhooks/x and /webhooks/meta "
        "(the function URL's stand-in)")
    say(f"  embedded AWS   {runtime.aws.endpoint}  (moto, Step Functions executing)")
    for logical, kind in built.types.items():
        say(f"  {kind:<34} {built.refs[logical]}")
    say(f"  pollers        {', '.join(p.function_name for p in runtime.pollers)}")
    say(f"  outbox         {runtime.outbox}  (every SMS/email SNS would deliver)")
    say("Press Ctrl-C to stop.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    say("Stopping…")
    runtime.stop()
    say("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
