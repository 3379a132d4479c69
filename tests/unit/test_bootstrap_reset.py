"""bootstrap.reset() forgets every cached client: a stale one would call a dead endpoint."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib import bootstrap


def test_reset_clears_every_cached_getter() -> None:
    source = Path(bootstrap.__file__).read_text()
    cached = re.findall(r"@cache\ndef (\w+)", source)
    assert cached, "the pattern no longer finds bootstrap's cached getters"
    for name in cached:
        getattr(bootstrap, name)  # each exists
    reset_body = source[source.index("def reset()"):]
    assert [name for name in cached if not re.search(rf"\b{name}\b", reset_body)] == []
