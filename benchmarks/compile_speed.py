"""How fast tfm answers: `tfm check` start-up against `import tensorflow`, and checking/compiling a
large generated `.tfm` against CPython compiling the Python tfm writes for it (with peak memory).

Ratios of medians measured in one run, the pairs interleaved.

    .venv/bin/python benchmarks/compile_speed.py [--quick] [--lines 10000]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def large_source(lines: int) -> str:
    """A valid `.tfm` of about `lines` lines: modules with variables, submodules and methods using
    arithmetic, control flow and calls (the generator script the issue asks to keep checked in)."""
    parts = []
    index = 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(f"""
module Block{index}(width: int = 8):
    var w: f32[width, width] = glorot_uniform(seed={index})
    var b: f32[width] = zeros()
    state calls: i32[] = 0

    fn step(x: f32[N, width]) -> f32[N, width]:
        calls.assign_add(1)
        y = x @ w + b
        if reduce_sum(y) > 0.0:
            y = relu(y)
        else:
            y = tanh(y)
        return y * 0.5 + x

    fn score(x: f32[N, width]) -> (total: f32[], peak: f32[]):
        h = step(x)
        total = 0.0
        for i in range(3):
            total = total + reduce_mean(h) * cast(i, f32)
        return total, reduce_max(h)
""")
        index += 1
    return "".join(parts)


def _wall(command: list[str]) -> float:
    """Seconds to run `command`, with bytecode caching on as on a user's machine (some CI images set
    PYTHONDONTWRITEBYTECODE, which would make every start compile tfm's sources again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def startup(rounds: int) -> dict:
    small = ROOT / "examples" / "demo_module.tfm"
    _wall([sys.executable, "-m", "tfm", "check", str(small)])  # warm-up: bytecode and the grammar cache
    _wall([sys.executable, "-c", "import tensorflow"])
    check, tensorflow, python, pydantic = [], [], [], []
    for _ in range(rounds):
        check.append(_wall([sys.executable, "-m", "tfm", "check", str(small)]))
        tensorflow.append(_wall([sys.executable, "-c", "import tensorflow"]))
        python.append(_wall([sys.executable, "-c", "import os; os._exit(0)"]))
        pydantic.append(_wall([sys.executable, "-c", _PYDANTIC]))
    return {"check_s": statistics.median(check), "import_tensorflow_s": statistics.median(tensorflow),
            "speedup": statistics.median(tensorflow) / statistics.median(check),
            "python_share": statistics.median(python) / statistics.median(check),
            "pydantic_share": statistics.median(pydantic) / statistics.median(check)}


# What any syntax tree of pydantic nodes costs a process: importing pydantic and making a model class
# (ended as `tfm check` ends, without the interpreter's teardown).
_PYDANTIC = ("import os\nfrom pydantic import BaseModel, ConfigDict\nclass Node(BaseModel):\n"
             "    model_config = ConfigDict(frozen=True, defer_build=True)  # as tfm's nodes\n    line: int\n"
             "os._exit(0)\n")


def _seconds(function, *args) -> float:
    """One timed call, started with no garbage left by the call before (else the collector's pass
    over it lands on whichever measurement happens to trigger it), its result freed after the clock
    stops (as a process exiting never frees it). CPU time of this process, not wall time: both
    sides are single-threaded pure computation, and on a shared machine another process's load
    would land on whichever side it happened to overlap."""
    gc.collect()
    start = time.process_time()
    result = function(*args)
    elapsed = time.process_time() - start
    del result
    return elapsed


def large(lines: int, rounds: int) -> dict:
    from tfm import dsl
    from tfm.pipeline import compile_text

    text = large_source(lines)
    python = compile_text(text, "large.tfm").python
    check, build, cpython = [], [], []
    for _ in range(rounds):
        check.append(_seconds(dsl.analyze, text, "large.tfm"))
        build.append(_seconds(compile_text, text, "large.tfm"))
        cpython.append(_seconds(compile, python, "large.py", "exec"))
    tracemalloc.start()
    compile_text(text, "large.tfm")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    base = statistics.median(cpython)
    return {"tfm_lines": text.count("\n"), "python_lines": python.count("\n"),
            "check_s": statistics.median(check), "compile_s": statistics.median(build), "cpython_s": base,
            "check_over_cpython": statistics.median(check) / base,
            "compile_over_cpython": statistics.median(build) / base, "compile_peak_mb": peak / 2**20}


def run(quick: bool = False, lines: int = 10_000) -> dict:
    # Start-ups are short (a fraction of a second against seconds): more of them for a steady median.
    return {"startup": startup(2 if quick else 11), "large": large(1_000 if quick else lines, 1 if quick else 7)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--write-source", metavar="FILE.tfm", help="write the large source and stop")
    args = parser.parse_args()
    if args.write_source:
        Path(args.write_source).write_text(large_source(args.lines))
        return
    print(run(args.quick, args.lines))


if __name__ == "__main__":
    tempfile.tempdir = None
    main()
