"""Helpers the tests share, imported as `from support import ...` (pytest puts tests/ on sys.path through
tests/conftest.py). Fuzzers that are also scripts live beside this file: `support/fuzzing.py` (program
generators and mutations) and `support/differential.py` (`python tests/support/differential.py [OP ...]`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DIAGNOSTICS = ROOT / "tests" / "diagnostics"  # read by the syntax, semantics and formatter tests
STRANGER = 12345  # the uid of "another user" on a shared machine
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def load_example(name: str):
    """Compile and import examples/NAME.tfm; returns the generated Python module."""
    import tfm

    return tfm.load(EXAMPLES / f"{name}.tfm", module_name=f"tfm_example_{name}")


def diagnostics_of(text: str, file: str = "p.tfm", limits=None, *, analyze_only: bool = False) -> list:
    """The diagnostics `text` gives through the whole pipeline (or only the analysis); [] if it compiles."""
    from tfm import compile_text, dsl

    try:
        if analyze_only:
            dsl.analyze(text, file, limits)
        else:
            compile_text(text, file, limits)
    except dsl.TfmError as exc:
        return list(exc.diagnostics)
    return []


def strangers_own(*paths: Path) -> None:
    """Another user (uid STRANGER) owns `paths`, links themselves rather than what they point to. Tests run
    as root, so this is how they play a stranger's file."""
    for path in paths:
        os.chown(path, STRANGER, STRANGER, follow_symlinks=False)


def doc_blocks(language: str = "tfm", pages: list[Path] = DOC_PAGES) -> list[tuple[str, str]]:
    """(where, text) of every ```LANGUAGE block of `pages` (the README and docs/), `where` as `page:line`."""
    blocks = []
    for page in pages:
        markdown = page.read_text(encoding="utf-8")
        for match in re.finditer(rf"^```{language}\n(.*?)^```$", markdown, flags=re.S | re.M):
            line = markdown.count("\n", 0, match.start()) + 1
            blocks.append((f"{page.relative_to(ROOT)}:{line}", match.group(1)))
    return blocks


def run_python(code: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300,
               args: list[str] | None = None):
    """Run `code` in a fresh interpreter (no state shared with the test process), `args` as its sys.argv[1:]."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *(args or [])], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts the work after `seconds`."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
