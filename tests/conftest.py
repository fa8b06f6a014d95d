"""Shared test setup: a private compile cache, example loading, opt-in slow runs, golden updates."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the long, opt-in tests (fuzzing)")
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output instead of comparing")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    # Generated modules go to a per-run cache, never the user's ~/.cache.
    os.environ["TFM_CACHE_DIR"] = str(tmp_path_factory.mktemp("tfm-cache"))
    yield


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


def load_example(name: str):
    """Compile and import examples/NAME.tfm; returns the generated Python module."""
    import tfm

    return tfm.load(EXAMPLES / f"{name}.tfm", module_name=f"tfm_example_{name}")


def run_python(code: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run `code` in a fresh interpreter (no state shared with the test process)."""
    import subprocess

    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd or ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def pytest_terminal_summary(terminalreporter):
    """Show how many fuzz cases ran, even when pytest captures the tests' output."""
    differential = sys.modules.get("test_differential")
    if differential is not None and sum(differential.COUNTS.values()):
        counts = differential.COUNTS
        terminalreporter.write_line(
            f"differential: {sum(counts.values())} op x dtype cases: {counts['ok']} ran in TensorFlow as the "
            f"check inferred, {counts['refused']} refused by the check, "
            f"{counts['failed'] + counts['compile_failed'] + counts['untyped']} accepted but wrong")
    fuzz = sys.modules.get("test_fuzz")
    if fuzz is not None and sum(fuzz.COUNTS.values()):
        counts = fuzz.COUNTS
        terminalreporter.write_line(f"fuzz: {sum(counts.values())} cases ran: {counts['compiled']} compiled, "
                                    f"{counts['diagnosed']} diagnosed (no tracebacks, no internal errors)")
