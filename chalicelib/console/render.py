"""HTML answers for the console: Jinja2 templates with autoescaping, and the headers every page
carries (a strict Content-Security-Policy: no inline script or style can run, so injected
markup stays inert)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice.app import Response

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
ASSETS = {"console.css": "text/css; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8"}


@cache
def _templates() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape  # on first page only

    return Environment(loader=FileSystemLoader(HERE / "templates"),
                       autoescape=select_autoescape(default=True), trim_blocks=True,
                       lstrip_blocks=True)


def html(template: str, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> Response:
    body = _templates().get_template(template).render(**context)
    return Response(body=body, status_code=status, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        **SECURITY_HEADERS, **(headers or {})})


def redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    """303 See Other: after a POST the browser GETs the page (post/redirect/get)."""
    return Response(body="", status_code=303, headers={
        "Location": location, "Cache-Control": "no-store", **SECURITY_HEADERS,
        **(headers or {})})


@cache
def asset(name: str) -> bytes | None:
    return (HERE / "static" / name).read_bytes() if name in ASSETS else None
