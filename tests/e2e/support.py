"""Helpers every e2e module uses against the platform started in tests/e2e/conftest.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

PASSWORD = "Demo-Passw0rd!"
T = TypeVar("T")


def _no_5xx(response: httpx.Response) -> None:
    """An httpx response hook: a 5xx is always a bug (API.md), so it fails the test at once."""
    if response.status_code >= 500:
        response.read()
        raise AssertionError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )


def problem_fields(response: httpx.Response) -> set[str]:
    """The fields a problem+json answer names."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"] for e in response.json().get("errors") or []}


def login(http: httpx.Client, email: str) -> dict[str, str]:
    """Bearer headers of a demo account (password login)."""
    response = http.post(
        "/api/v1/auth/login", json={"method": "password", "identifier": email, "secret": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `predicate` until it returns something truthy (the platform is asynchronous by design)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("condition not met in time")
