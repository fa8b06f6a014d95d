"""The whole compile, top to bottom: read -> parse -> check -> generate -> verify.

No TensorFlow here: `tfm check` and `tfm compile` must answer fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfm import dsl
from tfm.dsl.analysis import Analysis
from tfm.dsl.diagnostics import CompilerBug, error
from tfm.dsl.nodes import Span


@dataclass(frozen=True)
class Compiled:
    """A compiled source: the generated Python text and the checked program it came from."""

    source_name: str
    python: str
    analysis: Analysis
    source_text: str = ""


def read_source(path: str | Path) -> str:
    """A `.tfm` file's text; undecodable bytes raise TfmError, not UnicodeDecodeError."""
    path = Path(path)
    return dsl.decode_source(path.read_bytes(), str(path))


def check_text(text: str, file: str, limits: dsl.Limits | None = None, search_path=None) -> Analysis:
    """Parse and check one source, generating no code: what `tfm check` needs, and fast.

    Whatever passes here compiles: generation reports no user errors of its own, only tfm's bugs
    (the golden and fuzz tests compile every program that checks)."""
    try:
        return dsl.analyze(text, file, limits, search_path)
    except dsl.TfmError:
        raise
    except Exception as exc:
        raise _internal_error(exc, file, text) from exc


def compile_text(text: str, file: str, limits: dsl.Limits | None = None, search_path=None) -> Compiled:
    """Compile one source. Raises dsl.TfmError with every diagnostic found (see dsl.Limits for bounds).
    `import`s are looked for next to `file`, then in `search_path` (default: the TFM_PATH directories)."""
    from tfm.generate.codegen import generate
    from tfm.generate.safety import verify_generated

    analysis = check_text(text, file, limits, search_path)  # its body walks are kept for the generator
    try:
        with dsl.collector_paused():
            python = generate(analysis, dsl.parser.normalize_text(text), Path(file).name)
            verify_generated(python, file)
    except dsl.TfmError:
        raise
    except Exception as exc:  # a bug in tfm: report it as data, where it happened, never as a traceback
        raise _internal_error(exc, file, text) from exc
    return Compiled(source_name=Path(file).name, python=python, analysis=analysis, source_text=text)


def _internal_error(exc: Exception, file: str, text: str) -> dsl.InternalError:
    if isinstance(exc, CompilerBug):
        span, what = exc.span, str(exc)
    else:
        span, what = Span(file=file, line=1, column=1, end_line=1, end_column=1), f"{type(exc).__name__}: {exc}"
    return dsl.InternalError([error("E099", span, f"internal compiler error: {what}",
                                    "this is a bug in tfm; please report it with the source")], {file: text})


def check_file(path: str | Path, limits: dsl.Limits | None = None) -> Analysis:
    return check_text(read_source(path), str(path), limits)


def compile_file(path: str | Path, limits: dsl.Limits | None = None) -> Compiled:
    return compile_text(read_source(path), str(path), limits)
