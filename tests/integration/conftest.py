"""Integration fixtures: an embedded moto server with every resource of resources.yaml built."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from infrastructure.local.aws import Built, EmbeddedAws, build_resources
from infrastructure.template import load_resources


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[tuple[EmbeddedAws, Built]]:
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)
    aws = EmbeddedAws("127.0.0.1", port, "us-east-1")
    aws.start()
    built = build_resources(aws, load_resources(), "dev")
    yield aws, built
    aws.stop()
