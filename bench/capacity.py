"""`python -m bench.capacity`: the capacity model of docs/capacity.md, computed from the newest measurement of
each benchmark figure in bench/results, so the document moves with the results (`--check` fails when it is
stale; tests/unit/test_capacity_doc.py runs it).

Every figure was measured on one 2-core machine running the whole platform (bench/run.py), so a rate the
platform sustained there costs 2 cores ÷ that rate per unit of work, PostgreSQL, NATS and Temporal included:
an upper bound for each process, which is the safe side for sizing."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "capacity.md"
BENCH_CORES = 2  # the machine every result was measured on

# The load to plan for (issue 21 item 5) and how it spreads over a day.
ENTERPRISES = 1_000_000
CONSULTATIONS_PER_DAY = 100_000
DOCUMENT_ORDERS_PER_DAY = 20_000
BUSY_HOURS = 8  # 09:00-17:00 Beijing time carry ...
BUSY_SHARE = 0.8  # ... 80 % of a day's work
PEAK_OVER_BUSY = 3.0  # the busiest minute against the busy hours' average
# Gateway requests a client makes per process (submit, the timeline polled, messages, the reply read, rating).
REQUESTS_PER_CONSULTATION = 30
REQUESTS_PER_DOCUMENT_ORDER = 40  # requirements, uploads, reviews, revisions, downloads
# Signed-in enterprise users browsing (catalog, articles, inbox) besides their own processes.
DAILY_ACTIVE_SHARE = 0.05
REQUESTS_PER_ACTIVE_ENTERPRISE = 20
CACHE_MISS_SHARE = 0.5  # requests that reach a service and PostgreSQL (the rest the gateway's cache answers)
EVENTS_PER_CONSULTATION = 8  # outbox events: submitted, classified, assigned, replied, ... closed, rated
EVENTS_PER_DOCUMENT_ORDER = 12
TIMERS_PER_CONSULTATION = 3  # reply clock, escalation, rating reminder
TIMERS_PER_DOCUMENT_ORDER = 4  # acknowledgement, delivery, revision window, completion
# How long each process stays open (a Temporal workflow holding its clocks).
CONSULTATION_OPEN_DAYS = 2
DOCUMENT_ORDER_OPEN_DAYS = 10  # up to 72 h delivery and a 7-day revision window
HISTORY_RETENTION_DAYS = 7  # the Temporal namespace keeps closed workflows this long
TARGET_UTILISATION = 0.6  # cores are sized to run at most 60 % busy at the peak
MIN_REPLICAS = 2  # every process survives losing one pod
# Row sizes (rows, indexes, outbox and timeline entries), estimated, not measured: kept apart so they are
# replaced by measurements when a benchmark records them.
KIB_PER_ENTERPRISE = 4
KIB_PER_CONSULTATION = 16
KIB_PER_DOCUMENT_ORDER = 12  # metadata only: the files are in the JetStream Object Store
RETENTION_YEARS = 3
UPDATES_PER_SHARD_PER_SECOND = 50  # what one Temporal history shard is planned to carry at the peak


@dataclass(frozen=True)
class Measured:
    value: float
    unit: str
    source: str  # the results file it comes from

    def __str__(self) -> str:
        return f"{self.value:,.3f} {self.unit}"


def commit_time(result: Path) -> int:
    """When the commit a results file measured was made (its name is <date>-<commit>[-label].json): file
    names sort by day only, and several runs share a day."""
    commit = result.stem.split("-")[3]
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", "-s", "--format=%ct", commit], capture_output=True, text=True
    )
    if shown.returncode != 0:
        raise SystemExit(f"bench.capacity: commit {commit} of {result.name} is not in this clone's history")
    return int(shown.stdout)


def latest_figures() -> dict[tuple[str, str], Measured]:
    """(benchmark, metric) → the newest measurement of it, over every results file."""
    figures: dict[tuple[str, str], Measured] = {}
    # Only `make bench` runs: chaos-<date>-<commit>.json measures recovery, which the capacity model never reads.
    for result in sorted(RESULTS.glob("[0-9]*.json"), key=lambda path: (commit_time(path), path.name)):
        for figure in json.loads(result.read_text(encoding="utf-8"))["figures"]:
            if isinstance(figure["value"], int | float) and figure["value"] > 0:
                key = (figure["benchmark"], figure["metric"])
                figures[key] = Measured(float(figure["value"]), figure["unit"], result.name)
    return figures


def find(figures: dict[tuple[str, str], Measured], benchmark: str, metric_prefix: str) -> Measured:
    matches = [
        value
        for (bench, metric), value in figures.items()
        if bench == benchmark and metric.startswith(metric_prefix)
    ]
    if len(matches) != 1:
        raise SystemExit(f"bench.capacity: {len(matches)} figures match {benchmark!r} / {metric_prefix!r}")
    return matches[0]


def peak_per_second(per_day: float) -> float:
    return per_day * BUSY_SHARE / (BUSY_HOURS * 3600) * PEAK_OVER_BUSY


def replicas_for(cores: float, cores_per_replica: float = 1.0) -> int:
    # A Python process runs its event loop on one core: more load means more replicas, not bigger pods.
    return max(MIN_REPLICAS, math.ceil(cores / TARGET_UTILISATION / cores_per_replica))


def pow2_at_least(value: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(value, 1))))


def render() -> str:
    figures = latest_figures()
    gateway_cpu = find(figures, "gateway overhead", "CPU per request")
    uncached = find(figures, "catalog read", "max sustained, every request missing the gateway cache")
    submissions = find(figures, "workflow starts", "platform: sustained consultation submissions")
    timer_drain = find(figures, "timer burst", "10000 timers due in the same second")
    outbox = find(figures, "outbox relay", "drain rate")
    worker_rss = find(figures, "open SLA workflows", "worker RSS per cached workflow")
    temporal_rss = find(figures, "open SLA workflows", "Temporal server RSS per open workflow")
    temporal_disk = find(figures, "open SLA workflows", "Temporal SQLite disk per open workflow")

    # Cost of one unit of work, in core-milliseconds.
    ms_gateway = gateway_cpu.value
    ms_uncached = BENCH_CORES * 1000 / uncached.value  # gateway + service + PostgreSQL
    ms_submission = (
        BENCH_CORES * 1000 / submissions.value
    )  # gateway, consultation, worker, Temporal, PostgreSQL
    ms_timer = BENCH_CORES * 1000 * timer_drain.value / 10_000  # Temporal server + worker per deadline
    ms_event = 1000 / outbox.value  # one relay on one core

    processes_per_day = CONSULTATIONS_PER_DAY + DOCUMENT_ORDERS_PER_DAY
    requests_per_day = (
        CONSULTATIONS_PER_DAY * REQUESTS_PER_CONSULTATION
        + DOCUMENT_ORDERS_PER_DAY * REQUESTS_PER_DOCUMENT_ORDER
        + ENTERPRISES * DAILY_ACTIVE_SHARE * REQUESTS_PER_ACTIVE_ENTERPRISE
    )
    events_per_day = (
        CONSULTATIONS_PER_DAY * EVENTS_PER_CONSULTATION + DOCUMENT_ORDERS_PER_DAY * EVENTS_PER_DOCUMENT_ORDER
    )
    timers_per_day = (
        CONSULTATIONS_PER_DAY * TIMERS_PER_CONSULTATION + DOCUMENT_ORDERS_PER_DAY * TIMERS_PER_DOCUMENT_ORDER
    )
    load = [
        ("consultations", CONSULTATIONS_PER_DAY),
        ("document orders", DOCUMENT_ORDERS_PER_DAY),
        ("gateway requests", requests_per_day),
        ("requests reaching a service", requests_per_day * CACHE_MISS_SHARE),
        ("outbox events", events_per_day),
        ("deadlines (timers firing)", timers_per_day),
    ]
    peak = {name: peak_per_second(per_day) for name, per_day in load}

    gateway_cores = peak["gateway requests"] * ms_gateway / 1000
    services_cores = peak["requests reaching a service"] * (ms_uncached - ms_gateway) / 1000
    workflow_cores = (peak["consultations"] + peak["document orders"]) * ms_submission / 1000
    timer_cores = peak["deadlines (timers firing)"] * ms_timer / 1000
    relay_cores = peak["outbox events"] * ms_event / 1000
    open_workflows = (
        CONSULTATIONS_PER_DAY * CONSULTATION_OPEN_DAYS + DOCUMENT_ORDERS_PER_DAY * DOCUMENT_ORDER_OPEN_DAYS
    )
    retained_workflows = processes_per_day * HISTORY_RETENTION_DAYS
    worker_gib = open_workflows * worker_rss.value / 2**20
    temporal_gib = open_workflows * temporal_rss.value / 2**20
    temporal_db_gib = (open_workflows + retained_workflows) * temporal_disk.value / 2**20
    # Each workflow update (a start, a signal, an activity, a timer) is a history write on its shard.
    peak_updates = (peak["consultations"] + peak["document orders"]) * 10 + peak["deadlines (timers firing)"]
    shards = max(512, pow2_at_least(peak_updates / UPDATES_PER_SHARD_PER_SECOND))
    counsel_db_gib = (
        ENTERPRISES * KIB_PER_ENTERPRISE
        + RETENTION_YEARS * 365 * (CONSULTATIONS_PER_DAY * KIB_PER_CONSULTATION)
        + RETENTION_YEARS * 365 * (DOCUMENT_ORDERS_PER_DAY * KIB_PER_DOCUMENT_ORDER)
    ) / 2**20

    services = 7
    sizing = [
        ("gateway", gateway_cores, replicas_for(gateway_cores), "peak requests × gateway CPU per request"),
        (
            "each gRPC service (7)",
            services_cores / services,
            replicas_for(services_cores / services),
            "peak service requests × (uncached read − gateway), spread evenly",
        ),
        (
            "worker (with the Temporal server)",
            workflow_cores + timer_cores,
            replicas_for(workflow_cores + timer_cores),
            "peak starts × submission + deadlines × deadline cost",
        ),
        ("outbox relays", relay_cores, "in the services", "peak events × relay CPU per event"),
    ]
    storage_gib = (counsel_db_gib + temporal_db_gib) * 1.5
    lines = [
        "# Capacity model",
        "",
        "Generated by `python -m bench.capacity` from the newest measurement of each figure in `bench/results`;",
        "do not edit by hand (`python -m bench.capacity --check` fails when this file is stale, and a unit test",
        "runs it). Each rate was measured with the whole platform on one 2-core machine, so its cost per unit of",
        "work (2 cores ÷ rate) includes PostgreSQL, NATS and Temporal: an upper bound, the safe side for sizing.",
        "Assumptions are constants at the top of `bench/capacity.py`; change them there.",
        "",
        "## Measured cost per unit of work",
        "",
        "| work | cost (core-ms) | from | results file |",
        "|---|---|---|---|",
        f"| a gateway request | {ms_gateway:.2f} | gateway CPU per request {gateway_cpu} | {gateway_cpu.source} |",
        f"| a request reaching a service and PostgreSQL | {ms_uncached:.2f} | {uncached} sustained | {uncached.source} |",
        f"| a consultation submitted (its workflow started) | {ms_submission:.2f} | {submissions} sustained "
        f"| {submissions.source} |",
        f"| a deadline firing | {ms_timer:.2f} | 10,000 timers drained in {timer_drain} | {timer_drain.source} |",
        f"| an outbox event relayed | {ms_event:.3f} | {outbox} | {outbox.source} |",
        "",
        "| memory or disk | per open workflow | results file |",
        "|---|---|---|",
        f"| worker RSS (cached workflow) | {worker_rss} | {worker_rss.source} |",
        f"| Temporal server RSS | {temporal_rss} | {temporal_rss.source} |",
        f"| Temporal persistence (SQLite; PostgreSQL is of the same order) | {temporal_disk} "
        f"| {temporal_disk.source} |",
        "",
        "## Load",
        "",
        f"{ENTERPRISES:,} enterprises ({DAILY_ACTIVE_SHARE:.0%} active a day, {REQUESTS_PER_ACTIVE_ENTERPRISE} "
        f"requests each), {CONSULTATIONS_PER_DAY:,} consultations ({REQUESTS_PER_CONSULTATION} requests each) and "
        f"{DOCUMENT_ORDERS_PER_DAY:,} document orders ({REQUESTS_PER_DOCUMENT_ORDER} requests each) a day; "
        f"{BUSY_SHARE:.0%} of a day's work in {BUSY_HOURS} busy hours and the peak minute at "
        f"{PEAK_OVER_BUSY:g}× the busy hours' average; {CACHE_MISS_SHARE:.0%} of requests miss the gateway's cache.",
        "",
        "| per day | count | peak per second |",
        "|---|---|---|",
        *(f"| {name} | {per_day:,.0f} | {peak[name]:,.1f} |" for name, per_day in load),
        "",
        "## Processes",
        "",
        f"Cores at the peak, sized to run at most {TARGET_UTILISATION:.0%} busy; a Python process uses one core, so "
        f"replicas = cores ÷ {TARGET_UTILISATION:g}, at least {MIN_REPLICAS}.",
        "",
        "| process | cores at the peak | replicas (1 core each) | how |",
        "|---|---|---|---|",
        *(f"| {name} | {cores:.2f} | {replicas} | {how} |" for name, cores, replicas, how in sizing),
        "",
        f"Open workflows at any time: {open_workflows:,} (consultations open {CONSULTATION_OPEN_DAYS} days, "
        f"document orders {DOCUMENT_ORDER_OPEN_DAYS} days). The workers' workflow caches hold them in "
        f"{worker_gib:.1f} GiB if all are cached (split over the worker replicas; a smaller cache replays "
        f"instead), the Temporal history service in {temporal_gib:.1f} GiB.",
        "",
        "## Temporal",
        "",
        f"- History shards: **{shards}** (fixed when the cluster is created): the peak's {peak_updates:,.0f} "
        f"workflow updates/s (about 10 per process started, plus the deadlines) at no more than "
        f"{UPDATES_PER_SHARD_PER_SECOND} per shard, and never fewer than 512.",
        f"- Persistence on PostgreSQL: {temporal_db_gib:.1f} GiB for the open workflows and "
        f"{HISTORY_RETENTION_DAYS} days of closed ones ({retained_workflows:,} workflows).",
        "",
        "## PostgreSQL",
        "",
        f"- counsel's databases: {counsel_db_gib:,.0f} GiB after {RETENTION_YEARS} years "
        f"({KIB_PER_ENTERPRISE} KiB per enterprise, {KIB_PER_CONSULTATION} KiB per consultation, "
        f"{KIB_PER_DOCUMENT_ORDER} KiB per document order: estimates, not yet measured); document files live "
        "in the JetStream Object Store (R3), not here.",
        f"- Temporal's database: {temporal_db_gib:.1f} GiB (above).",
        f"- CPU: the services' requests reach PostgreSQL ({peak['requests reaching a service']:,.0f}/s at the "
        f"peak); the measured cost above counts PostgreSQL's share, so the services' {services_cores:.2f} cores "
        "are also an upper bound for the primary's.",
        f"- 3 instances (CloudNativePG, synchronous replication), each with {storage_gib:,.0f} GiB of storage: both "
        "databases with headroom for WAL, bloat and the next year's growth (× 1.5).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when docs/capacity.md is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if DOC.read_text(encoding="utf-8") != text:
            print("docs/capacity.md is stale: run python -m bench.capacity", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
