"""9. The firm endpoint (issue 17 item 4): a firm's GetFirm through the endpoint (TLS, the firm's token verified,
the call forwarded over the gateway's mutual-TLS channel) beside the same call made straight to the catalog
with the gateway's own identity — what the extra hop costs a firm's system."""

from __future__ import annotations

import grpc
import httpx

from bench.harness import Context, Figure, ctx_rates, ms
from bench.loadgen import max_sustained, open_loop
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from deploy.local.stack import identity_files

DEMO_PASSWORD = "Demo-Passw0rd!"


async def _credentials(base_url: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        login = await http.post(
            "/api/v1/auth/login",
            json={
                "method": "password",
                "identifier": "firm_admin@demo.counsel.test",
                "secret": DEMO_PASSWORD,
            },
        )
        login.raise_for_status()
        created = await http.post(
            "/api/v1/firm/service-clients",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            json={"name": "bench"},
        )
        created.raise_for_status()
        return created.json()["client_id"], created.json()["client_secret"]


async def bench_firm_endpoint(ctx: Context) -> None:
    stack = ctx.stack
    client_id, secret = await _credentials(stack.base_url)
    gateway = identity_files(stack.data_dir, "gateway").read()
    endpoint = f"127.0.0.1:{stack.env['COUNSEL_FIRM_GRPC_PORT']}"
    rates = ctx_rates(ctx, [100, 200, 400, 700, 1000, 1400])
    results: dict[str, tuple[float, float]] = {}
    async with (
        grpc.aio.secure_channel(endpoint, grpc.ssl_channel_credentials(gateway.ca)) as firm_channel,
        grpc.aio.secure_channel(
            ctx.settings.catalog_addr, grpc.ssl_channel_credentials(gateway.ca, gateway.key, gateway.cert)
        ) as direct_channel,
    ):
        token = await firm_channel.unary_unary(
            "/counsel.identity.v1.IdentityService/IssueServiceToken",
            identity_pb.IssueServiceTokenRequest.SerializeToString,
            identity_pb.IssueServiceTokenResponse.FromString,
        )(identity_pb.IssueServiceTokenRequest(client_id=client_id, client_secret=secret), timeout=10)
        metadata = (("authorization", f"Bearer {token.access_token}"),)
        request = catalog_pb.GetFirmRequest(firm_id=token.firm_id)
        for kind, channel in (("endpoint", firm_channel), ("direct", direct_channel)):
            get_firm = channel.unary_unary(
                "/counsel.catalog.v1.CatalogService/GetFirm",
                catalog_pb.GetFirmRequest.SerializeToString,
                catalog_pb.GetFirmResponse.FromString,
            )

            async def call(get_firm: grpc.aio.UnaryUnaryMultiCallable = get_firm) -> None:
                await get_firm(request, metadata=metadata, timeout=10)

            await call()
            fixed = await open_loop(call, ctx.scale(50, 200), ctx.scale(3, 10))
            best, _ = await max_sustained(call, rates, ctx.scale(2, 8), 0.2)
            results[kind] = (fixed.p(50), best)
    (endpoint_p50, endpoint_max), (direct_p50, direct_max) = results["endpoint"], results["direct"]
    ctx.add(
        Figure(
            "firm endpoint",
            "GetFirm median latency at a fixed rate",
            ms(endpoint_p50),
            "ms",
            ms(direct_p50),
            "straight to the catalog as the gateway",
            note=f"the endpoint adds {ms(endpoint_p50 - direct_p50):.2f} ms",
        ),
        Figure(
            "firm endpoint",
            "max sustained GetFirm (p99 ≤ 200 ms)",
            endpoint_max,
            "calls/s",
            direct_max,
            "straight to the catalog as the gateway",
            note="the firm's rate limit is set above the offered load",
        ),
    )
