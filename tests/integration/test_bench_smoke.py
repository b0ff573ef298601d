"""`make bench-quick` stays runnable: the quick variant of two benchmarks (the gateway's overhead against a
bare echo, and the outbox relay against raw JetStream publishes) runs end to end in a few seconds each and
writes both results files with every field the issue asks for. The figures themselves are not judged here:
targets live in the benchmarks, never in timed tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {"cpus", "python", "grpcio", "temporalio", "postgresql", "nats", "temporal", "quick"}
FIGURE_FIELDS = {
    "benchmark",
    "metric",
    "value",
    "unit",
    "baseline",
    "baseline_name",
    "target",
    "note",
    "ratio",
}


def test_the_quick_benchmarks_write_their_results(tmp_path: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--only",
            "gateway",
            "outbox",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    [json_file] = tmp_path.glob("*-quick.json")
    [markdown] = tmp_path.glob("*-quick.md")

    results = json.loads(json_file.read_text())
    assert set(results["environment"]) >= ENVIRONMENT and results["environment"]["quick"] is True
    figures = {(f["benchmark"], f["metric"]): f for f in results["figures"]}
    assert all(set(f) >= FIGURE_FIELDS for f in figures.values())
    assert not [f for f in figures.values() if f["metric"] == "failed"], finished.stdout[-3000:]

    cpu = figures[("gateway overhead", "CPU per request")]
    assert cpu["value"] > 0 and cpu["baseline"] > 0 and cpu["ratio"] == cpu["value"] / cpu["baseline"]
    assert cpu["target"] == "≤ 2× baseline"
    drain = figures[("outbox relay", "drain rate (commit order, acked)")]
    assert drain["value"] > 0 and drain["baseline_name"] == "raw serial js.publish"
    assert any(metric.startswith("relay lag p99") for _, metric in figures)

    table = markdown.read_text()
    assert "| benchmark | metric | value | baseline | ratio | target | note |" in table
    assert "| gateway overhead | CPU per request |" in table and "- postgresql:" in table
