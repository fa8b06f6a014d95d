"""Map an error raised inside generated code back to the `.tfm` line that caused it.

Every generated statement ends with `# FILE:LINE`; the innermost traceback frame in a generated
file (recognised by its TFM_SOURCE header) names the statement, and its comment names the line.
"""

from __future__ import annotations

import linecache
import re
import traceback

_LOCATION = re.compile(r"#\s*([^\s#:]+\.tfm):(\d+):(\d+)\s*$")


def tfm_location(exc: BaseException) -> str | None:
    """`model.tfm:12:9` for the innermost generated statement in `exc`'s traceback, if any."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        text = linecache.getline(frame.filename, frame.lineno)
        match = _LOCATION.search(text)
        if match and _is_generated(frame.filename):
            return ":".join(match.groups())
    return _location_in_message(str(exc))


def _is_generated(filename: str) -> bool:
    return "TFM_SOURCE" in "".join(linecache.getline(filename, n) for n in range(1, 14))


def _location_in_message(message: str) -> str | None:
    # Graph-time errors name the generated file and line in TensorFlow's own message.
    for filename, line in re.findall(r'File "([^"]+\.py)", line (\d+)', message)[::-1]:
        text = linecache.getline(filename, int(line))
        match = _LOCATION.search(text)
        if match and _is_generated(filename):
            return ":".join(match.groups())
    return None


def map_tensorflow_error(exc: BaseException) -> str | None:
    """A one-paragraph message for a TensorFlow error from generated code, or None if it is not one."""
    location = tfm_location(exc)
    if location is None:
        return None
    message = getattr(exc, "message", None) or str(exc)
    return f"{location}: {type(exc).__name__}: {summarize(message) or type(exc).__name__}"


_NOISE = ("Graph execution error:", "Detected at node", "File ", "[[", "Stack trace")


def summarize(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong, without graph plumbing."""
    for line in message.splitlines():
        text = line.strip()
        if text and not text.startswith(_NOISE):
            return re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", text)
    return ""
