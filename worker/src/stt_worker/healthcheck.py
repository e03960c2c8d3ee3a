"""`python -m stt_worker.healthcheck`: exit 0 only while a worker answers SERVING.

The container health check (Docker's `HEALTHCHECK`, compose's `healthcheck`): one
`grpc.health.v1.Health/Check` for the whole server (service ""), so the worker counts as
healthy only once its model is loaded, and no longer once it drains. It imports gRPC and
the health proto only, never the engine, so a check costs a fraction of a second.

Exit codes follow Docker's: 0 healthy, 1 unhealthy (not serving, unreachable, timed out).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

HEALTHY = 0
UNHEALTHY = 1


def _default_address() -> str:
    # The port the worker itself binds by default (WORKER_PORT), so an image that moves the
    # port through the environment needs no second setting for its check.
    return f"127.0.0.1:{os.environ.get('WORKER_PORT') or 50051}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stt_worker.healthcheck",
        description=(
            "Asks a worker's grpc.health.v1 service for the whole server's status; "
            "exits 0 when it is SERVING, 1 otherwise."
        ),
    )
    parser.add_argument(
        "--address",
        default=_default_address(),
        help="host:port of the worker (default 127.0.0.1:$WORKER_PORT, else 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        help="seconds to wait for the answer, connecting included (default 3)",
    )
    return parser


def check(address: str, timeout_s: float) -> tuple[int, str]:
    """Runs one health check.

    Args:
        address: host:port of the worker.
        timeout_s: Deadline of the call, connecting included.

    Returns:
        The exit code (HEALTHY or UNHEALTHY) and a one-line reason.
    """
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError as error:
            # Errors of a finished call also implement grpc.Call, which the stubs do not say.
            code = getattr(error, "code", None)
            name = code().name if callable(code) else "UNKNOWN"
            return UNHEALTHY, f"{address}: {name}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    if response.status == health_pb2.HealthCheckResponse.SERVING:
        return HEALTHY, f"{address}: {status}"
    return UNHEALTHY, f"{address}: {status}"


def main(argv: Sequence[str] | None = None) -> int:
    """Checks the worker once and prints the outcome (kept in the container's health log).

    Args:
        argv: Command-line arguments (default: sys.argv[1:]).

    Returns:
        The exit code.
    """
    args = _parser().parse_args(argv)
    if args.timeout <= 0:
        _parser().error("--timeout must be positive")
    code, reason = check(args.address, args.timeout)
    print(reason, file=sys.stdout if code == HEALTHY else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
