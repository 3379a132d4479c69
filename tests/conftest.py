"""Shared test setup: fake AWS credentials so nothing can ever reach a real account."""

from __future__ import annotations

import os

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="replywindow",
    POWERTOOLS_METRICS_NAMESPACE="ReplyWindow",
    POWERTOOLS_TRACE_DISABLED="true",
    # The functions skip the SDK's parameter check (chalicelib/config.py): the tests keep it,
    # so a malformed request fails here rather than reaching the emulator.
    REPLYWINDOW_VALIDATE_REQUESTS="1",
)

# The emulator must apply conditional writes atomically, as DynamoDB does (see moto_fixes).
from infrastructure.local import moto_fixes

moto_fixes.apply()
