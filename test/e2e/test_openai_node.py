"""Runs the Node `openai` SDK suite (openai_node.test.ts) against the real server."""

from __future__ import annotations

import os
import subprocess

from .conftest import Gateway
from .speech import REPO


def test_openai_node_sdk_suite_passes(tiny_gateway: Gateway) -> None:
    result = subprocess.run(
        [
            str(REPO / "node_modules" / ".bin" / "vitest"),
            "run",
            "--project",
            "e2e-node",
        ],
        cwd=REPO,
        env={
            **os.environ,
            "STT_E2E_BASE_URL": f"{tiny_gateway.base_url}/v1",
            "CI": "true",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "5 passed" in output, output[-3000:]
