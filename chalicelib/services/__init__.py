"""Use cases. Submodules load on first use (PEP 562): the Lambda's init stays cheap, and each
function pays only for what it runs (cold start is a measured figure: bench/coldstart.py)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.services import (
        acknowledge as acknowledge,
    )
    from chalicelib.services import (
        agent_api as agent_api,
    )
    from chalicelib.services import (
        dead_letters as dead_letters,
    )
    from chalicelib.services import (
        health as health,
    )
    from chalicelib.services import (
        oncall_admin as oncall_admin,
    )
    from chalicelib.services import (
        privacy as privacy,
    )
    from chalicelib.services import (
        webhooks as webhooks,
    )

_LAZY = {"acknowledge", "agent_api", "dead_letters", "health", "oncall_admin", "privacy",
         "webhooks"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(name)
