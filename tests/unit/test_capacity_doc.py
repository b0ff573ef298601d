"""docs/capacity.md is what `python -m bench.capacity` computes from the newest benchmark results (issue 21
item 5): a new result, or a changed assumption, must come with the regenerated document."""

from __future__ import annotations

from bench.capacity import DOC, latest_figures, render


def test_the_capacity_model_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/capacity.md is stale: python -m bench.capacity"


def test_each_figure_comes_from_its_newest_measurement() -> None:
    # Two runs on 2026-11-29 measured the timer burst; the later commit (83a6e40, 18:52) wins over the one
    # whose name sorts last (d399109, 15:18).
    figures = latest_figures()
    burst = next(value for (bench, _), value in figures.items() if bench == "timer burst")
    assert burst.source == "2026-11-29-83a6e40-gateway-timers-outbox.json"
