"""`pitcrew bench`: measure speed and cost against the targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.bench.runner import (
    BENCHMARK_MODULES,  # the names, for --help (runner loads each module when it runs)
)
from bot.cli.common import fail

if TYPE_CHECKING:  # loaded by the command when it runs: `pitcrew --help` loads none of it
    from rich.console import Console
    from rich.table import Table

    from bot.bench.runner import BenchRun


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _table(run: BenchRun) -> Table:
    from rich.table import Table

    machine = run.machine
    table = Table(
        title=f"pitcrew bench: {machine.get('cores')} cores, {machine.get('cpu') or 'unknown CPU'}, "
        f"Python {machine.get('python')}, {run.seconds:.0f} s",
        title_justify="left",
    )
    for column, justify in (("benchmark", "left"), ("unit", "left"), ("p50", "right"), ("p95", "right"),
                            ("p99", "right"), ("target", "left"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in run.results:
        verdict = "[green]PASS[/green]" if result.passed else "[red]MISS[/red]"
        table.add_row(result.name, result.unit, _format(result.p50), _format(result.p95), _format(result.p99),
                      result.target, verdict)
    return table


def _write_outputs(run: BenchRun, out: Path, console: Console) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(run.as_json(), indent=2) + "\n", encoding="utf-8")
    from bot.bench.plot import plot_stage_timings

    plot_path = plot_stage_timings(run.results, out / "stage-timings.png")
    if plot_path is None:
        console.print("no plot: install the plot extra (pip install -e '.[plot]') for stage-timings.png",
                      style="yellow", markup=False)


def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Smaller data sets and fewer repeats (about two minutes).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write bench.json and stage-timings.png here.")] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help=f"Run only these: {', '.join(BENCHMARK_MODULES)}.")] = None,
) -> None:
    """Run the benchmarks against their targets (never touches your database)."""
    from rich.console import Console

    from bot.bench.runner import run_benchmarks

    unknown = sorted(set(only or ()) - set(BENCHMARK_MODULES))
    if unknown:
        fail(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARK_MODULES)}", 2)
    stderr = Console(stderr=True)
    run = run_benchmarks(
        quick=quick,
        only=only,
        on_module=None if as_json else (lambda name: stderr.print(f"[dim]running {name}…[/dim]")),
    )
    if as_json:
        print(json.dumps(run.as_json()))
    else:
        stdout = Console()
        # Piped or redirected output gets the full width rather than rich's 80 columns.
        (stdout if stdout.is_terminal else Console(width=200)).print(_table(run))
        for name, error in run.errors.items():
            stderr.print(f"[red]{name} failed:[/red] {error}")
    if out is not None:
        _write_outputs(run, out, stderr)
    if run.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="bench")(bench)


__all__ = ["bench", "register"]
