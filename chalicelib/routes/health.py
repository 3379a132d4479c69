"""GET /health: up or not, for anyone (a load balancer, a status page); with the admin token,
what runs where and what needs attention (chalicelib/services/health.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib import bootstrap, services
from chalicelib.domain.errors import Unauthorized
from chalicelib.http import current
from chalicelib.services.auth import authenticate

health_check = Blueprint(__name__)


@health_check.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    """Up or not, for anyone; what runs where and the channels' troubles, for the admin."""
    return services.health.report(_is_admin(current(health_check).headers.get("authorization")),
                                  bootstrap.health_deps())


def _is_admin(header: str | None) -> bool:
    # A wrong or missing token is no error here: the caller just gets the short answer.
    if not header:
        return False
    try:
        return authenticate(header, bootstrap.auth_deps()).role == "admin"
    except Unauthorized:
        return False
