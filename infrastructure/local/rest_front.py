"""The REST API, locally: Chalice's local server, routing only the paths the packaged RestAPI
declares (build/sam.json). API Gateway routes nothing else to the app, whatever app.py defines,
so a path the template leaves out (the webhooks, served only by their function URL) is the same
403 "Missing Authentication Token" here as in AWS."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LambdaEventConverter,
    LocalDevServer,
    LocalGateway,
    RouteMatcher,
)


class _DeclaredPathsHandler(ChaliceRequestHandler):
    def __init__(self, request: bytes, client_address: tuple[str, int], server: HTTPServer,
                 app_object: Chalice, config: Config, paths: list[str]) -> None:
        self.local_gateway = LocalGateway(app_object, config)
        self.local_gateway.event_converter = LambdaEventConverter(
            RouteMatcher(paths), app_object.api.binary_types)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)  # type: ignore[arg-type]


def rest_front(app: Chalice, paths: Iterable[str], host: str, port: int) -> Any:
    """A LocalDevServer that serves `paths` (the RestAPI's) of `app`, and nothing else."""
    declared = sorted(paths)
    unknown = [p for p in declared if p not in app.routes]
    if unknown:  # the template and the code disagree: packaged from other code
        raise RuntimeError(f"the packaged RestAPI declares paths app.py lacks: {unknown}")
    handler = functools.partial(_DeclaredPathsHandler, paths=declared)
    return LocalDevServer(app, Config.create(), host, port, handler_cls=handler)
