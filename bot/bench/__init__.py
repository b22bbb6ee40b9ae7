"""Benchmarks: each module exposes `run(quick: bool, workdir: Path) -> list[BenchResult]`."""
