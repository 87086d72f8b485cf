"""`make bench`: the speed and size figures of the quick start, the tests and the pre-flight.

Timings are medians of repeated runs (wall clock), never asserted anywhere: a shared or virtual
machine is noisy, so compare figures taken on the same machine in the same session.

  test       warm `make -s test` (ruff, mypy, pytest), RUNS times
  validate   `make -s validate STACK=prod` over the import floor
             (`.venv/bin/python -c "import pulumi, pulumiverse_clickhouse, upstash_pulumi"`),
             interleaved 3 x RUNS times each (they are short); the ratio of the medians, and
             the median of each run's ratio to the floor run just before it
  quickstart README's first command on a fresh clone of HEAD with pip's cache off
             (`PIP_NO_CACHE_DIR=1 make validate STACK=dev`): time and the size of its .venv

Runs with any Python 3.11+ and the standard library only (it builds the virtualenvs it measures).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Not tools.project.ROOT: that module needs PyYAML, and this runs before any virtualenv exists.
ROOT = Path(__file__).resolve().parent.parent
FLOOR = [".venv/bin/python", "-c", "import pulumi, pulumiverse_clickhouse, upstash_pulumi"]


def timed(argv: Sequence[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of one run; a failing command stops the benchmark."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def describe(name: str, samples: list[float]) -> str:
    runs = " ".join(f"{s:.2f}" for s in sorted(samples))
    return f"{name}: median {statistics.median(samples):.2f} s over {len(samples)} runs ({runs})"


def bench_test(runs: int) -> None:
    subprocess.run(["make", "-s", "test-venv", "actionlint"], cwd=ROOT, check=True)
    timed(["make", "-s", "test"])  # warm the caches (ruff, mypy, pytest's rewritten modules)
    print(describe("make -s test (warm)", [timed(["make", "-s", "test"]) for _ in range(runs)]))


def bench_validate(runs: int) -> None:
    subprocess.run(["make", "-s", "venv"], cwd=ROOT, check=True)
    validate = ["make", "-s", "validate", "STACK=prod"]
    timed(FLOOR), timed(validate)  # warm the page cache and the bytecode
    floor: list[float] = []
    check: list[float] = []
    for _ in range(runs):
        floor.append(timed(FLOOR))
        check.append(timed(validate))
    print(describe("import floor", floor))
    print(describe("make -s validate STACK=prod", check))
    print(f"ratio of the medians: {statistics.median(check) / statistics.median(floor):.2f}")
    # Each check over the floor run just before it: steadier when the machine's speed drifts.
    paired = statistics.median(c / f for c, f in zip(check, floor, strict=True))
    print(f"median of the paired ratios: {paired:.2f}")


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def bench_quickstart(runs: int) -> None:
    samples: list[float] = []
    size = 0.0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            env = {**os.environ, "PIP_NO_CACHE_DIR": "1"}
            samples.append(timed(["make", "validate", "STACK=dev"], cwd=clone, env=env))
            size = _size_mb(clone / ".venv")
            shutil.rmtree(clone)
    print(describe("fresh clone: PIP_NO_CACHE_DIR=1 make validate STACK=dev", samples))
    print(f".venv size: {size:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    benches = {"test": bench_test, "validate": bench_validate, "quickstart": bench_quickstart}
    parser.add_argument("what", nargs="*", help=f"any of {', '.join(benches)} (default: validate test)")
    parser.add_argument("--runs", type=int, default=5, help="runs per timing (median of them)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.what if name not in benches]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(benches)}")
    for name in args.what or ["validate", "test"]:
        benches[name](args.runs * 3 if name == "validate" else args.runs)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
