"""The one page an agent sees outside the API: the result of tapping an acknowledge link.
Small, readable on a phone, no scripts."""

from __future__ import annotations

from html import escape

from chalice.app import Response

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>ReplyWindow - {title}</title>
<style>body{{font:18px/1.4 system-ui,sans-serif;margin:2em auto;max-width:28em;padding:0 1em}}
h1{{font-size:1.3em}}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>"""


def page(title: str, message: str, status: int = 200) -> Response:
    body = _PAGE.format(title=escape(title), message=escape(message))
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "text/html; charset=utf-8",
                             "Cache-Control": "no-store"})
