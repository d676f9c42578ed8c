"""Run every benchmark, one after another, and keep their tables and JSON results together.

Each ``bench_*.py`` measures xinyu against a named baseline in the same run and prints its own table;
this runner only sequences them (they must not share the CPU, or the timings mean nothing), writes
each one's JSON under ``--out`` and ends with which ones ran, how long they took and whether they exited
cleanly.

Usage::

    make bench                                              # all, default sizes (about 20-30 min on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick          # smaller sizes (a few minutes), same comparisons
    .venv/bin/python benchmarks/run_all.py --only safety,data --out runs/bench
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (script, default arguments, --quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "safety": ("bench_safety.py", [], ["--repeats", "2"]),
    "data": ("bench_data.py", [], ["--n", "5000"]),
    "sft": ("bench_sft.py", [], ["--steps", "4", "--n", "40", "--heldout", "8"]),
    "eval": ("bench_eval.py", [], ["--pairs", "2000", "--n", "30"]),
    "serve": ("bench_serve.py", [], ["--quick"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same comparisons")
    parser.add_argument("--out", type=Path, default=Path("runs") / "bench", help="where each JSON result goes")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        script, default, quick = BENCHMARKS[name]
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else default),
               "--json", str(args.out / f"{name}.json")]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd)
        results.append((name, time.perf_counter() - start, code))
    print("\n| benchmark | wall s | exit | results |\n| --- | --- | --- | --- |")
    for name, seconds, code in results:
        print(f"| {name} | {seconds:.0f} | {code} | {args.out / (name + '.json')} |")
    return 0 if all(code == 0 for _, _, code in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
