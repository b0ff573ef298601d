"""The fuzz tier (issue 17, item 6): schemathesis generates requests from the gateway's own /openapi.json
and sends them to the whole running platform, as an anonymous caller and as each demo account, and no
answer may be a server error (API.md: "A 5xx is always a bug"; R-OPS-3).

Per caller it runs schemathesis' coverage phase (boundary values of every declared constraint: the largest
integers, empty and overlong strings, NUL, wrong types, unexpected methods) and fuzzing phase (random
valid and invalid requests) on every operation the caller may call — the operations the authorization
matrix (tests/unit/test_authorization_matrix.py) admits it to; refusals are that matrix's business — then
the stateful phase, sequences that feed ids from one answer into the next call.

The platform is its own (own databases, stream and task queue on the session's servers): fuzzing as
firm_admin, editor and reviewer rewrites lawyers, firms and products, which the journeys rely on.
Seeds are fixed, so CI sends the same requests every run; `make fuzz` runs this module with a fresh seed
and more examples (COUNSEL_FUZZ_SEED, COUNSEL_FUZZ_EXAMPLES, COUNSEL_FUZZ_STATEFUL_EXAMPLES). A case it
finds becomes a named regression test in tests/unit/test_gateway_input_limits.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.support.authorization import MATRIX, Actor
from tests.support.journeys import login
from tests.support.platform import running_platform

SEED = int(os.environ.get("COUNSEL_FUZZ_SEED", "20261206"))
# Fuzzing examples per operation and caller, and stateful scenarios per caller. CI's values keep the tier
# near three minutes on two cores (coverage cases come on top and do not depend on these).
EXAMPLES = int(os.environ.get("COUNSEL_FUZZ_EXAMPLES", "5"))
STATEFUL_EXAMPLES = int(os.environ.get("COUNSEL_FUZZ_STATEFUL_EXAMPLES", "30"))
# Inputs of the kinds that were 500s (issue 17, item 6), drawn now and then in place of a generated value:
# NUL (PostgreSQL text refuses it), times at the ends of the calendar or without a UTC equivalent, and
# integers past int32 (integer columns), int64 (protos, bigint) and any machine integer.
UNSTORABLE_TEXT = ["\x00", "a\x00b", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00", "0000-00-00"]
EDGE_INTEGERS = [2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30]
# CI replays the same inputs every run; `make fuzz` sets COUNSEL_FUZZ_SEED and explores.
DERANDOMIZE = "COUNSEL_FUZZ_SEED" not in os.environ
BASE_URL = os.environ.get("COUNSEL_FUZZ_BASE_URL", "")


ANONYMOUS = Actor("anonymous")


@dataclass(frozen=True)
class Caller:
    """Who sends the requests: a demo account (README, API.md) and the roles it holds."""

    name: str
    email: str = ""
    actor: Actor = ANONYMOUS


DEMO_TENANT = "demo"  # any non-empty tenant: the matrix only distinguishes "has one" from "has none"
CALLERS = (
    Caller("anonymous"),
    Caller("client", "client@demo.counsel.test", Actor("client_admin", ("client_admin",), DEMO_TENANT)),
    Caller("member", "member@demo.counsel.test", Actor("client", ("client",), DEMO_TENANT)),
    Caller("lawyer1", "lawyer1@demo.counsel.test", Actor("lawyer", ("lawyer",))),
    Caller("reviewer", "reviewer@demo.counsel.test", Actor("reviewer", ("reviewer", "lawyer"))),
    Caller("agent", "agent@demo.counsel.test", Actor("agent", ("agent",))),
    Caller("editor", "editor@demo.counsel.test", Actor("editor", ("editor",))),
    Caller("supervisor", "supervisor@demo.counsel.test", Actor("supervisor", ("supervisor",))),
    Caller("firm_admin", "firm_admin@demo.counsel.test", Actor("firm_admin", ("firm_admin",))),
)
# Left out, with the reason: the inbox stream never ends by itself (the matrix checks it opens), and
# erasing a demo account would end that caller's run with 401s (erasure: tests/integration/test_erasure.py).
NOT_FUZZED = {("GET", "/api/v1/notifications/stream"), ("DELETE", "/api/v1/me")}


def fuzzed(caller: Caller, method: str, path: str) -> bool:
    if (method, path) in NOT_FUZZED:
        return caller.actor.anonymous and method == "DELETE"  # anonymous gets its 401 like anywhere else
    entry = MATRIX.get((method, path))
    assert entry is not None, f"{method} {path} has no entry in the authorization matrix"
    return entry.access.admits(caller.actor)


def config(caller: Caller, headers: dict[str, str], labels: list[str]) -> schemathesis.Config:
    """The run's settings for one caller: its token, and the operations of `labels` it may not call
    turned off."""
    refused = [label for label in labels if not fuzzed(caller, *label.split(" ", 1))]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "request-timeout": 30,
            "max-redirects": 0,  # the OAuth routes redirect to the identity provider
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "dictionaries": {
                "unstorable-text": {"values": UNSTORABLE_TEXT},
                "edge-integers": {"values": EDGE_INTEGERS},
            },
            "generation": {
                "max-examples": EXAMPLES,
                "mode": "all",
                "database": "none",
                "with-security-parameters": False,  # the caller's own token is sent instead
                # Values of the classes that were 500s, mixed into what Hypothesis draws.
                "dictionaries": {
                    "string": {"dictionary": "unstorable-text", "probability": 0.2},
                    "integer": {"dictionary": "edge-integers", "probability": 0.2},
                },
            },
            "phases": {
                "examples": {"enabled": True},
                # Unexpected methods are 405 before any route runs (tests/unit/test_gateway_http.py).
                "coverage": {"enabled": True, "unexpected-methods": []},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 6},
            },
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
            "operations": [{"include-name": refused, "enabled": False}] if refused else [],
        }
    )


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The platform under test: its own, or COUNSEL_FUZZ_BASE_URL's (e.g. `make up`'s, whose demo data
    the fuzzing then rewrites) to explore without waiting for a start."""
    if BASE_URL:
        yield BASE_URL
        return
    servers = [request.getfixturevalue(name) for name in ("postgres_server", "temporal_dev_server")]
    # Every request of the fuzzer comes from one address with a few tokens: the gateway's rate limits stay on
    # but above the fuzzer's pace, so requests reach the routes instead of a 429.
    unlimited = {
        f"COUNSEL_GATEWAY_{limit}": "1000000"
        for limit in ("RATE_PER_IP", "BURST_PER_IP", "RATE_PER_TOKEN", "BURST_PER_TOKEN")
    }
    with running_platform(*servers, tmp_path_factory.mktemp("fuzz-platform"), **unlimited) as running:
        yield running.base_url


@pytest.fixture(scope="module")
def tokens(base_url: str) -> dict[str, dict[str, str]]:
    """Every caller's headers, signed in before any fuzzing: fuzzed logins soon hit the per-IP rate limit.
    Access tokens last 15 minutes, longer than the tier runs."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return {c.name: login(http, c.email) if c.email else {} for c in CALLERS}


def load_schema(base_url: str, caller: Caller, headers: dict[str, str]) -> Any:
    """/openapi.json as the running gateway serves it, set up for `caller`."""
    url = f"{base_url}/openapi.json"
    document = httpx.get(url, timeout=30).json()
    labels = [f"{m.upper()} {path}" for path, operations in document["paths"].items() for m in operations]
    return schemathesis.openapi.from_url(url, config=config(caller, headers, labels))


@pytest.fixture(scope="module", params=CALLERS, ids=[c.name for c in CALLERS])
def api_schema(request: pytest.FixtureRequest, base_url: str, tokens: Any) -> Any:
    caller: Caller = request.param
    return load_schema(base_url, caller, tokens[caller.name])


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's fixture-loaded schema reads the test item's `_nodeid`, which pytest 9.2 no longer
    has (a structured `_id` replaced it); given here, it renames the item per operation in its reports."""
    request.node._nodeid = request.node.nodeid  # type: ignore[attr-defined]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    """Examples, coverage and fuzzing phases: every operation the caller may call, with boundary and random
    values, answers anything but 5xx (API.md; R-OPS-3, R-ACC-4)."""
    case.call_and_validate(checks=[not_a_server_error])


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_no_sequence_of_requests_gets_a_server_error(
    caller: Caller, base_url: str, tokens: dict[str, dict[str, str]]
) -> None:
    """Stateful phase: chains of calls linked by the ids one answer gives the next (an order, then its
    payment, timeline, cancellation; a booking, then its reschedule), as each caller on the operations it
    may call, with no 5xx (R-OPS-3)."""
    headers = tokens[caller.name]
    machine: type[APIStateMachine] = (
        load_schema(base_url, caller, headers)
        .include(lambda ctx: fuzzed(caller, ctx.operation.method.upper(), ctx.operation.path))
        .as_state_machine()
    )
    answered: list[int] = []
    server_errors: list[str] = []

    class NoServerErrors(machine):  # type: ignore[valid-type, misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            # Recorded rather than raised: Hypothesis would replay the scenario to shrink it, and a replay
            # against a live platform meets other answers (what was created is now a conflict).
            answered.append(response.status_code)
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except Exception as failure:
                server_errors.append(f"{case.as_curl_command()} → {response.status_code}: {failure}")

    # Ids in a scenario come from earlier answers, so the same choices can meet a different platform (an id
    # created once is a conflict the second time), which Hypothesis reports as flaky data generation and
    # ends the run: the answers collected until then still count.
    with contextlib.suppress(hypothesis.errors.Flaky):
        NoServerErrors.run(
            settings=hypothesis.settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=6,
                phases=[hypothesis.Phase.generate],
                deadline=None,
                derandomize=DERANDOMIZE,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    assert server_errors == []
    assert answered, "no scenario ran"
    print(f"{caller.name}: {len(answered)} stateful calls")
