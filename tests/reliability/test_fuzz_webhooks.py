"""Bad input against both webhook routes: random bytes, truncated and deeply nested JSON, huge
strings, and every field of the real fixtures replaced by a wrong type, all correctly signed so
they reach the parsers. Never a 5xx, never an unhandled exception; a refused body writes
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BODIES = [(p.parent.name, json.loads(p.read_text())) for p in sorted(FIXTURES.glob("*/*.json"))
          if p.parent.name != "policies"]
TRIED = {"inputs": 0}
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _post(client: Client, platform: str, raw: bytes) -> int:
    TRIED["inputs"] += 1
    if platform == "twitter":
        headers = {"x-twitter-webhooks-signature": x_signature(SECRETS["x_consumer_secret"], raw)}
        route = "/webhooks/x"
    else:
        headers = {"X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], raw)}
        route = "/webhooks/meta"
    response = client.http.post(route, body=raw, headers={**headers,
                                                          "Content-Type": "application/json"})
    return int(response.status_code)


def _count_items() -> int:
    return len(bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"])


# Hundreds of examples, each reading the whole table: minutes on a busy machine.
@pytest.mark.timeout(900)
def test_fuzzed_webhooks_never_get_a_5xx_and_refusals_write_nothing(aws: Built) -> None:
    import app

    with Client(app.app) as client:
        @settings(max_examples=250, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.data())
        def check(data: st.DataObject) -> None:
            platform, body = data.draw(st.sampled_from(BODIES))
            kind = data.draw(st.sampled_from(["mutate", "bytes", "truncate", "nest", "huge"]))
            if kind == "mutate":
                path = data.draw(st.sampled_from(_paths(body) or [()]))
                raw = json.dumps(_replace(body, path, data.draw(junk))).encode()
            elif kind == "bytes":
                raw = data.draw(st.binary(max_size=200))
            elif kind == "truncate":
                full = json.dumps(body).encode()
                raw = full[:data.draw(st.integers(0, max(0, len(full) - 1)))]
            elif kind == "nest":
                depth = data.draw(st.integers(60, 3000))
                raw = b'{"object": "page", "entry": ' + b"[" * depth + b"]" * depth + b"}"
            else:
                raw = json.dumps({**body, "pad": "x" * 2_000_000}).encode()
            before = _count_items()
            status = _post(client, platform, raw)
            assert status < 500, (kind, raw[:200])
            if status >= 400:
                assert _count_items() == before, (kind, status)
            else:
                # The worker keeps up, as in production.
                run_inbound_worker()

        check()
    print(f"\nfuzz: {TRIED['inputs']} webhook inputs tried, none answered 5xx")
    assert TRIED["inputs"] >= 250
