"""Analysis off the request path: one background thread analyses the newest text of each changed
document, while requests are answered at once from the last analysis (a hover after a keystroke
sees the text of a moment ago, never a frozen server). Edits that come faster than analyses are
coalesced: only a document's newest text is analysed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from tfm.dsl.tolerant import Tolerant


@dataclass(frozen=True)
class Result:
    """One document's analysis: of which version and text, and what it found."""

    version: int | None
    text: str
    tolerant: Tolerant


@dataclass(frozen=True)
class _Job:
    version: int | None
    path: str
    text: str


class Analyser:
    """Runs `analyse(uri, path, text)` in a daemon thread for each submitted document and hands each
    result to `done(uri, result)` (in that thread: `done` posts it to the server's loop)."""

    def __init__(self, analyse: Callable[[str, str, str], Tolerant], done: Callable[[str, Result], None]):
        self._analyse, self._done = analyse, done
        self._pending: dict[str, _Job] = {}
        self._results: dict[str, Result] = {}
        self._busy: str | None = None  # the document being analysed
        self._dropped = False  # whether it was closed meanwhile
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tfm-analyser", daemon=True)
        self._thread.start()

    def submit(self, uri: str, version: int | None, path: str, text: str) -> None:
        with self._changed:
            self._pending[uri] = _Job(version, path, text)
            self._changed.notify_all()

    def forget(self, uri: str) -> None:
        with self._changed:
            self._pending.pop(uri, None)
            self._results.pop(uri, None)
            self._dropped = self._dropped or self._busy == uri

    def result(self, uri: str, wait: float = 0.0) -> Result | None:
        """The last analysis of `uri`; if it has none yet, wait up to `wait` seconds for the first."""
        with self._changed:
            self._changed.wait_for(lambda: uri in self._results or not self._queued(uri), timeout=wait)
            return self._results.get(uri)

    def settled(self, uri: str, wait: float) -> Result | None:
        """The analysis of `uri`'s newest text, waiting up to `wait` seconds for it (else the last one)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._queued(uri), timeout=wait)
            return self._results.get(uri)

    def _queued(self, uri: str) -> bool:
        return uri in self._pending or self._busy == uri

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending))
                uri, job = next(iter(self._pending.items()))
                del self._pending[uri]
                self._busy, self._dropped = uri, False
            try:
                result: Result | None = Result(job.version, job.text, self._analyse(uri, job.path, job.text))
            except Exception:  # `analyse` reports its own failures; this thread must go on regardless
                result = None
            with self._changed:
                self._busy = None
                if result is not None and not self._dropped:
                    self._results[uri] = result
                else:
                    result = None
                self._changed.notify_all()
            if result is not None:
                self._done(uri, result)
