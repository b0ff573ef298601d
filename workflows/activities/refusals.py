"""A fulfilling service's refusal that no retry can change (the order's requirements do not fit, the held
booking expired), raised as an activity failure that is not retried: the order's workflow compensates it
with a refund. Any other failure (the service is down) is retried by the activity's policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc
from temporalio.exceptions import ApplicationError

FINAL_CODES = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
)


@contextlib.contextmanager
def refusal_is_final(service: str) -> Iterator[None]:
    """Around a call to `service`: a refusal in FINAL_CODES becomes a non-retryable ApplicationError whose
    type is the status code's name."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        if exc.code() in FINAL_CODES:
            raise ApplicationError(
                f"{service} refused the order: {exc.details()}", type=exc.code().name, non_retryable=True
            ) from None
        raise
