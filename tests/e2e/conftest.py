"""The whole local stack (`python -m infrastructure.local`, what `make run` starts) as a
subprocess on free ports, driven over HTTP like a platform or an agent would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStack:
    api: str
    aws: str
    state_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return boto3.client(service, endpoint_url=self.aws, region_name="us-east-1")

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.jsonl"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("replywindow")
    api_port, aws_port = _free_port(), _free_port()
    env = {**os.environ, "REPLYWINDOW_PORT": str(api_port), "REPLYWINDOW_AWS_PORT":
           str(aws_port), "REPLYWINDOW_STATE_DIR": str(state_dir), "PYTHONUNBUFFERED": "1"}
    log = (state_dir / "stack.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.local"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, text=True)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError((state_dir / "stack.log").read_text())
        try:
            if requests.get(f"{api}/health", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("local stack did not start:\n"
                               + (state_dir / "stack.log").read_text())
        time.sleep(0.2)
    yield LocalStack(api, f"http://127.0.0.1:{aws_port}", state_dir, env, process)
    process.terminate()
    process.wait(timeout=20)
    log.close()
