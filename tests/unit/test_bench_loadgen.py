"""The open-loop load generator's arithmetic: the benchmarks' numbers are only as honest as this."""

from __future__ import annotations

import asyncio
import math

from bench.loadgen import Run, open_loop, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


def test_a_run_is_sustained_only_without_errors_shortfall_or_a_long_tail() -> None:
    healthy = Run(target_rate=10, duration=1, latencies=[0.01] * 10, elapsed=1)
    assert healthy.sustained(max_p99=0.1)
    assert not Run(10, 1, latencies=[0.01] * 9, errors=1, elapsed=1).sustained()
    assert not Run(10, 1, latencies=[0.01] * 5, elapsed=1).sustained()
    assert not Run(10, 1, latencies=[0.01] * 9 + [2.0], elapsed=1).sustained(max_p99=1.0)
    assert not Run(10, 1, latencies=[0.01] * 10, shed=1, elapsed=1).sustained(max_p99=0.1)


async def test_calls_beyond_the_in_flight_cap_are_shed_and_counted_apart_from_failures() -> None:
    release = asyncio.Event()

    async def stuck() -> None:
        await release.wait()

    async def failing() -> None:
        raise RuntimeError("refused")

    async def release_soon() -> None:
        await asyncio.sleep(0.2)
        release.set()

    releaser = asyncio.create_task(release_soon())
    stuck_run = await open_loop(stuck, rate=100, duration=0.1, max_in_flight=4)
    await releaser
    assert (stuck_run.completed, stuck_run.shed, stuck_run.errors) == (4, 6, 0)
    failed_run = await open_loop(failing, rate=100, duration=0.1)
    assert (failed_run.completed, failed_run.shed, failed_run.errors) == (0, 0, 10)


async def test_latency_counts_from_the_scheduled_time_so_queueing_is_not_hidden() -> None:
    lock = asyncio.Lock()

    async def serialised() -> None:  # a server that handles one request at a time, 20 ms each
        async with lock:
            await asyncio.sleep(0.02)

    run = await open_loop(serialised, rate=100, duration=0.3)  # arrivals every 10 ms: twice its capacity
    assert run.completed == 30 and run.errors == 0
    # The last request waited behind the backlog: far more than its own 20 ms of service.
    assert run.p(100) > 0.2
    assert not run.sustained(max_p99=0.1)


async def test_the_load_client_retries_once_when_the_server_closed_an_idle_keep_alive_connection() -> None:
    """A server's keep-alive timeout is not the platform failing: a reused connection the server closed is
    retried on a new one, so a rate step never counts it as an error."""
    from bench.http import LoadClient

    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # as uvicorn does when a kept-alive connection idles past its timeout

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, LoadClient(f"http://127.0.0.1:{port}") as client:
        first = await client.get("/")
        await asyncio.sleep(0.05)  # the server's close reaches the client's idle connection
        second = await client.get("/")
    assert (first.status, first.body, second.status, second.body) == (200, b"ok", 200, b"ok")
