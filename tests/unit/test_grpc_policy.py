"""The one authorization policy for every RPC (issue 17, R-OPS-3): every RPC of every service has an
entry, every entry names a real RPC and real processes, and the decision refuses what it must."""

from __future__ import annotations

import pytest

from services.runtime.errors import PermissionDenied, Unauthenticated
from services.runtime.grpc_server import authorize
from services.runtime.policy import (
    ANYONE,
    FIRM_ENDPOINT,
    FIRM_TOKEN_EXCHANGE,
    ITSELF,
    POLICY,
    PROCESSES,
    USER,
    callers_of,
    service_descriptors,
)

RPCS = sorted(
    f"/{service.full_name}/{method.name}" for service in service_descriptors() for method in service.methods
)


def test_every_rpc_of_every_service_has_an_entry_and_every_entry_is_a_real_rpc() -> None:
    assert [rpc for rpc in RPCS if rpc not in POLICY] == []
    assert sorted(POLICY) == RPCS


def test_entries_name_known_processes_and_only_the_gateway_brings_end_users() -> None:
    for rpc, callers in POLICY.items():
        for caller, brings in callers.items():
            assert caller in PROCESSES, (rpc, caller)
            assert brings in (USER, ANYONE, ITSELF), (rpc, brings)
            # End users reach counsel through the gateway only; a service acting for itself is never USER.
            assert brings != USER or caller == "gateway", (rpc, caller)


@pytest.mark.parametrize(
    ("rpc", "caller"),
    [
        # The holes of issue 17: a call without a user token was the platform itself.
        ("/counsel.payment.v1.PaymentService/RefundOrder", "gateway"),
        ("/counsel.identity.v1.IdentityService/IssueMembershipCard", "gateway"),
        ("/counsel.payment.v1.PaymentService/ListOrders", "gateway"),
        ("/counsel.consultation.v1.ConsultationService/GetConsultation", "gateway"),
    ],
)
def test_the_gateway_without_a_users_token_is_nobody(rpc: str, caller: str) -> None:
    with pytest.raises(Unauthenticated):
        authorize(callers_of(rpc), caller, has_token=False, method=rpc)
    authorize(callers_of(rpc), caller, has_token=True, method=rpc)


@pytest.mark.parametrize(
    ("rpc", "caller"),
    [
        (
            "/counsel.identity.v1.IdentityInternalService/ListUsersByRole",
            "gateway",
        ),  # decrypted phones and e-mails
        ("/counsel.identity.v1.IdentityInternalService/GetUser", "payment"),
        (
            "/counsel.notification.v1.NotificationInternalService/SendDirect",
            "gateway",
        ),  # the platform's own sender
        ("/counsel.notification.v1.NotificationInternalService/SendDirect", "worker"),
        ("/counsel.payment.v1.PaymentInternalService/ExpireOrder", "gateway"),
        ("/counsel.payment.v1.PaymentInternalService/AdvanceOrder", "consultation"),
        ("/counsel.documents.v1.DocumentsInternalService/RecordBreach", "gateway"),
        ("/counsel.consultation.v1.ConsultationInternalService/RecordStage", "payment"),
        ("/counsel.payment.v1.PaymentService/RefundOrder", "stranger"),
    ],
)
def test_platform_only_rpcs_refuse_every_other_process_token_or_not(rpc: str, caller: str) -> None:
    for has_token in (False, True):
        with pytest.raises(PermissionDenied):
            authorize(callers_of(rpc), caller, has_token=has_token, method=rpc)


def test_no_identity_is_unauthenticated_and_an_rpc_without_an_entry_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        authorize(callers_of("/counsel.catalog.v1.CatalogService/ListProducts"), "", True, "ListProducts")
    with pytest.raises(PermissionDenied):
        authorize(callers_of("/counsel.catalog.v1.CatalogService/Nope"), "gateway", True, "Nope")
    authorize(
        callers_of("/counsel.payment.v1.PaymentInternalService/ExpireOrder"), "worker", False, "ExpireOrder"
    )


def test_internal_services_hold_exactly_the_rpcs_no_user_token_reaches() -> None:
    """Public and internal APIs apart (issue 17 item 3): an RPC of a `…InternalService` is called by counsel's
    own processes only, never with an end user's token; every RPC of a public service is one a user (or
    anyone, through the gateway) may call — so the public protos are what clients and firms integrate with."""
    for rpc, callers in POLICY.items():
        service = rpc.split("/")[1]
        reached_by_users = any(brings in (USER, ANYONE) for brings in callers.values())
        if service.endswith("InternalService"):
            assert USER not in callers.values(), rpc
        else:
            assert reached_by_users, rpc


def test_the_firm_endpoint_serves_public_rpcs_the_gateway_may_call_for_a_user() -> None:
    """Issue 17 item 4: what a firm's system may call is a list of public RPCs, each one the gateway process
    (which serves the firm endpoint) may call with the caller's token; the token exchange is among them."""
    firm_rpcs = [f"/{service}/{method}" for service, methods in FIRM_ENDPOINT.items() for method in methods]
    assert FIRM_TOKEN_EXCHANGE in firm_rpcs
    for rpc in firm_rpcs:
        assert rpc in POLICY, rpc
        assert not rpc.split("/")[1].endswith("InternalService"), rpc
        assert POLICY[rpc].get("gateway") in (USER, ANYONE), rpc
