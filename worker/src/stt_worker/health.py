"""The standard gRPC health service (`grpc.health.v1.Health`), owned by `server`.

Unlike `grpc_health`'s servicer, `Watch` streams end once the worker starts shutting
down (after sending NOT_SERVING), so an open watch from the gateway does not hold the
drain for its whole grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING: int = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING: int = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN: int = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthServicer(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    """Serves `Check` and `Watch` for a fixed set of service names.

    Args:
        services: The names to report on ("" is the whole server); all start NOT_SERVING.
    """

    def __init__(self, services: tuple[str, ...]) -> None:
        self._statuses: dict[str, int] = dict.fromkeys(services, NOT_SERVING)
        self._changed = asyncio.Condition()
        self._shutting_down = False

    def status(self, service: str) -> int | None:
        """The current status of `service`, or None if it is not known."""
        return self._statuses.get(service)

    async def set_all(self, status: int) -> None:
        """Sets every service's status (ignored once shutting down).

        Args:
            status: SERVING or NOT_SERVING.
        """
        if self._shutting_down:
            return
        async with self._changed:
            for service in self._statuses:
                self._statuses[service] = status
            self._changed.notify_all()

    async def shutdown(self) -> None:
        """Reports NOT_SERVING for good and ends every `Watch` stream."""
        async with self._changed:
            self._shutting_down = True
            for service in self._statuses:
                self._statuses[service] = NOT_SERVING
            self._changed.notify_all()

    async def Check(  # noqa: N802 (gRPC method name)
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> health_pb2.HealthCheckResponse:
        """Answers the current status, or NOT_FOUND for an unknown service.

        Args:
            request: Names the service.
            context: The call.

        Returns:
            The status.
        """
        status = self._statuses.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(  # noqa: N802 (gRPC method name)
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """Streams the status now and after every change; ends once shutting down.

        Args:
            request: Names the service (an unknown one is reported SERVICE_UNKNOWN).
            context: The call.

        Yields:
            Status updates.
        """
        del context
        last: int | None = None
        while True:
            async with self._changed:
                status = self._statuses.get(request.service, SERVICE_UNKNOWN)
                if status == last and not self._shutting_down:
                    await self._changed.wait()
                    continue
                shutting_down = self._shutting_down
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)
                last = status
            if shutting_down:
                return
