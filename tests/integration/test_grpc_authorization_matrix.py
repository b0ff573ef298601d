"""The gRPC authorization matrix (issue 17, R-OPS-3): every RPC of every service, called over the real
mutual-TLS server bootstrap and interceptor, by every process identity, by an identity the policy does not
know, with and without a user's token — and by callers with no certificate, a certificate from another
authority, or no TLS at all; and from outside through the firm endpoint, with no token, a person's token
and a firm's service token. Each outcome must be exactly what the policy table says; the servicers behind
are stand-ins answering an empty reply, so what is checked is who gets *in*."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory

from services.gateway.firm_endpoint import FirmEndpoint
from services.runtime.config import SERVICE_NAMES
from services.runtime.grpc_client import open_channel
from services.runtime.grpc_server import GrpcServer
from services.runtime.pki import LocalAuthority, TlsMaterial
from services.runtime.policy import (
    FIRM_ENDPOINT,
    FIRM_TOKEN_EXCHANGE,
    POLICY,
    PROCESSES,
    USER,
    service_descriptors,
)
from tests.support.tokens import Issuer

METHODS = [(service, method) for service in service_descriptors() for method in service.methods]
OK, DENIED, UNAUTHENTICATED = (
    grpc.StatusCode.OK,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
)


def expected(rpc: str, caller: str, with_token: bool) -> grpc.StatusCode:
    callers = POLICY[rpc]
    if caller not in callers:
        return DENIED
    if callers[caller] == USER and not with_token:
        return UNAUTHENTICATED
    return OK


def bearer(tokens: Issuer, role: str) -> str:
    """A user's `authorization` value with `role` (user u1 of tenant t1)."""
    return tokens.bearer("u1", roles=(role,), tenant_id="t1")


def stand_in_handlers() -> list[grpc.GenericRpcHandler]:
    """Every RPC of every service, answering its empty reply (a server-streaming one, one empty message)."""
    handlers = []
    for service in {s for s, _ in METHODS}:
        table: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for method in service.methods:
            request = message_factory.GetMessageClass(method.input_type)
            reply = message_factory.GetMessageClass(method.output_type)
            if method.server_streaming:

                async def stream(_: Any, __: Any, reply: Any = reply) -> AsyncIterator[Any]:
                    yield reply()

                table[method.name] = grpc.unary_stream_rpc_method_handler(
                    stream, request.FromString, reply.SerializeToString
                )
            else:

                async def unary(_: Any, __: Any, reply: Any = reply) -> Any:
                    return reply()

                table[method.name] = grpc.unary_unary_rpc_method_handler(
                    unary, request.FromString, reply.SerializeToString
                )
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, table))
    return handlers


@pytest.fixture(scope="module")
async def server(pki: Callable[[str], TlsMaterial]) -> AsyncIterator[tuple[str, Issuer]]:
    tokens = Issuer()
    grpc_server = GrpcServer("matrix", "127.0.0.1:0", tokens.verifier(), pki("payment"))
    grpc_server.server.add_generic_rpc_handlers(stand_in_handlers())
    port = await grpc_server.start()
    yield f"127.0.0.1:{port}", tokens
    await grpc_server.stop(grace=0.1)


async def outcomes(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]
) -> dict[str, grpc.StatusCode]:
    """The status of one call of every RPC over `channel`."""
    seen: dict[str, grpc.StatusCode] = {}
    for service, method in METHODS:
        rpc = f"/{service.full_name}/{method.name}"
        request = message_factory.GetMessageClass(method.input_type)
        reply = message_factory.GetMessageClass(method.output_type)
        try:
            if method.server_streaming:
                call = channel.unary_stream(rpc, request.SerializeToString, reply.FromString)
                async for _ in call(request(), metadata=metadata, timeout=5):
                    pass
            else:
                await channel.unary_unary(rpc, request.SerializeToString, reply.FromString)(
                    request(), metadata=metadata, timeout=5
                )
            seen[rpc] = OK
        except grpc.aio.AioRpcError as error:
            seen[rpc] = error.code()
    return seen


def mtls(tls: TlsMaterial) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )


@pytest.mark.parametrize("caller", [*PROCESSES, "stranger"])
async def test_each_identity_gets_exactly_what_the_policy_gives_it(
    server: tuple[str, Issuer], pki: Callable[[str], TlsMaterial], caller: str
) -> None:
    address, tokens = server
    async with grpc.aio.secure_channel(address, mtls(pki(caller))) as channel:
        without = await outcomes(channel, ())
        with_token = await outcomes(channel, (("authorization", bearer(tokens, "supervisor")),))
    wrong = {
        rpc: (without[rpc], with_token[rpc])
        for rpc in POLICY
        if (without[rpc], with_token[rpc]) != (expected(rpc, caller, False), expected(rpc, caller, True))
    }
    assert wrong == {}
    if caller == "stranger":  # signed by counsel's authority, but named in no entry
        assert set(without.values()) == set(with_token.values()) == {DENIED}


async def test_a_forged_or_expired_user_token_is_refused_even_from_the_gateway(
    server: tuple[str, Issuer], pki: Callable[[str], TlsMaterial]
) -> None:
    address, _ = server
    forged = bearer(Issuer(), "supervisor")  # well-formed, signed by a key identity never published
    async with grpc.aio.secure_channel(address, mtls(pki("gateway"))) as channel:
        seen = await outcomes(channel, (("authorization", forged),))
    assert {rpc: code for rpc, code in seen.items() if "gateway" in POLICY[rpc]} == {
        rpc: UNAUTHENTICATED for rpc in POLICY if "gateway" in POLICY[rpc]
    }


@pytest.mark.parametrize("how", ["plaintext", "no client certificate", "another authority"])
async def test_a_caller_without_a_counsel_certificate_cannot_even_connect(
    server: tuple[str, Issuer],
    pki: Callable[[str], TlsMaterial],
    tmp_path_factory: pytest.TempPathFactory,
    how: str,
) -> None:
    address, tokens = server
    if how == "plaintext":
        channel = grpc.aio.insecure_channel(address)
    elif how == "no client certificate":
        channel = grpc.aio.secure_channel(
            address, grpc.ssl_channel_credentials(root_certificates=pki("payment").ca)
        )
    else:
        impostor = LocalAuthority(tmp_path_factory.mktemp("impostor")).issue("gateway").read()
        # It trusts counsel's server, but its own certificate comes from an authority counsel never trusted.
        channel = grpc.aio.secure_channel(
            address,
            grpc.ssl_channel_credentials(pki("payment").ca, impostor.key, impostor.cert),
        )
    async with channel:
        seen = await outcomes(channel, (("authorization", bearer(tokens, "supervisor")),))
    assert set(seen.values()) == {grpc.StatusCode.UNAVAILABLE}


@pytest.fixture(scope="module")
async def firm_endpoint(
    server: tuple[str, Issuer], pki: Callable[[str], TlsMaterial]
) -> AsyncIterator[tuple[str, Issuer]]:
    """The firm endpoint as the gateway serves it, forwarding to the stand-in services as the gateway."""
    address, tokens = server
    channels = {name: open_channel(address, pki("gateway")) for name in SERVICE_NAMES}
    endpoint = grpc.aio.server()
    endpoint.add_generic_rpc_handlers(
        (FirmEndpoint(channels, tokens.verifier(), rate_per_token=0, burst_per_token=1),)
    )
    tls = pki("gateway")
    port = endpoint.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(tls.key, tls.cert)]))
    await endpoint.start()
    yield f"127.0.0.1:{port}", tokens
    await endpoint.stop(0.1)
    for channel in channels.values():
        await channel.close()


def through_the_firm_endpoint(rpc: str, token: str) -> grpc.StatusCode:
    service, method = rpc.strip("/").split("/")
    if method not in FIRM_ENDPOINT.get(service, ()):
        return grpc.StatusCode.UNIMPLEMENTED
    if rpc == FIRM_TOKEN_EXCHANGE:
        return OK
    return {"": UNAUTHENTICATED, "supervisor": DENIED, "firm_service": OK}[token]


@pytest.mark.parametrize("token", ["", "supervisor", "firm_service"])
async def test_the_firm_endpoint_serves_firms_exactly_the_firm_facing_rpcs(
    firm_endpoint: tuple[str, Issuer], pki: Callable[[str], TlsMaterial], token: str
) -> None:
    """Issue 17 item 4: from outside, with TLS and no client certificate, every RPC of every service: only
    the firm-facing ones exist there, only a firm's token gets through (the token exchange needs none), and
    what gets through reaches the service as the gateway with the firm's token."""
    address, tokens = firm_endpoint
    credentials = grpc.ssl_channel_credentials(root_certificates=pki("gateway").ca)
    metadata = (("authorization", bearer(tokens, token)),) if token else ()
    async with grpc.aio.secure_channel(address, credentials) as channel:
        seen = await outcomes(channel, metadata)
    assert {rpc: code for rpc, code in seen.items() if code != through_the_firm_endpoint(rpc, token)} == {}
