"""pytest set-up only: a private compile cache, opt-in slow runs, golden updates, the fuzzers' counts in the
summary. Helpers the tests share are in `support` (tests/support/__init__.py), not here."""

from __future__ import annotations

import os
import sys

import pytest

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
