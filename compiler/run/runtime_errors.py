"""Map an error raised inside generated code back to the `.tfm` line that caused it.

The locations come from the line map each generated module carries (`tfm.generate.linemap`). An error
inside a library module (a `Dense` built with a bad size) is reported at the user's line that uses
or builds it, with the library line after it.
"""

from __future__ import annotations

import re

from tfm.generate.linemap import Location, locations


def tfm_location(exc: BaseException) -> str | None:
    """`model.tfm:12:9` for the innermost user statement in `exc`'s traceback, if any."""
    where = _user_location(exc)
    return str(where) if where is not None else None


def _user_location(exc: BaseException) -> Location | None:
    found = locations(exc)
    return next((w for w in found if not w.in_library), found[0] if found else None)


def describe_location(exc: BaseException) -> str | None:
    """The user's location, followed by the library line when the error happened inside the library."""
    found = locations(exc)
    user = next((w for w in found if not w.in_library), None)
    if user is None:
        return str(found[0]) if found else None
    inner = found[0]
    return f"{user} (in {inner})" if inner.in_library else str(user)


def map_tensorflow_error(exc: BaseException) -> str | None:
    """A one-paragraph message for a TensorFlow error from generated code, or None if it is not one."""
    location = describe_location(exc)
    if location is None:
        return None
    message = getattr(exc, "message", None) or str(exc)
    return f"{location}: {type(exc).__name__}: {summarize(message) or type(exc).__name__}"


_NOISE = ("Graph execution error:", "Detected at node", "File ", "[[", "Stack trace", "in user code:",
          "Traceback", "^", "~")


def summarize(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong, without graph plumbing.

    Trace-time errors read `in user code: File ... line ... <source line> TypeError: the reason`: the
    reason is the last line that is neither a frame, nor the source line under a frame.
    """
    lines = [line.strip() for line in message.splitlines()]
    if any(line.startswith("in user code:") for line in lines):
        reasons = [line for index, line in enumerate(lines)
                   if line and not line.startswith(_NOISE) and not _follows_frame(lines, index)]
        if reasons:
            return _clean(reasons[-1])
    for text in lines:
        if text and not text.startswith(_NOISE):
            return _clean(text)
    return ""


def _follows_frame(lines: list[str], index: int) -> bool:
    previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i]), "")
    return previous.startswith("File ")


def _clean(text: str) -> str:
    return re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", text)


def describe_failure(exc: BaseException) -> str:
    """What went wrong while building, tracing or running generated code: at the `.tfm` line when
    known, always with TensorFlow's own one-line reason."""
    mapped = map_tensorflow_error(exc)
    if mapped is not None:
        return mapped
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {summarize(message) or type(exc).__name__}"
