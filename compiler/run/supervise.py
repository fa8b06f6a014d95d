"""A multi-worker run that SIGINT and SIGTERM can stop.

While a worker waits for its cluster (or runs a collective op), TensorFlow blocks in C++ holding
Python's lock, and it replaces the SIGTERM handler with its own preemption notifier: no Python signal
handler, and no Python thread, runs until a peer comes, which may be never. So a multi-worker
`tfm train` is split in two before TensorFlow is imported: the child does the run; the parent only
waits for it, and on SIGINT or SIGTERM kills it and says what was stopped. The child dies with its
parent (Linux `PR_SET_PDEATHSIG`), so killing the parent outright leaves nothing listening either.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PHASE_FD: int | None = None  # the child's end of the pipe telling the parent the cluster formed
_PR_SET_PDEATHSIG = 1


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def supervise_cluster_run(cluster: list[str]) -> None:
    """Fork (before TensorFlow is imported): return in the child, which does the run; the parent
    never returns, it exits with the child's status, or with 128 + the signal that stopped it."""
    if "tensorflow" in sys.modules or not hasattr(os, "fork"):
        return  # in a process that already runs TensorFlow (a test, a notebook), forking is unsafe
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        global _PHASE_FD
        os.close(read_end)
        _die_with_parent()
        _PHASE_FD = write_end
        return
    os.close(write_end)
    os._exit(_wait_for(child, read_end, cluster))


def cluster_formed() -> None:
    """Tell the parent every worker has joined (its message on a stop says so)."""
    global _PHASE_FD
    if _PHASE_FD is not None:
        os.write(_PHASE_FD, b"f")
        os.close(_PHASE_FD)
        _PHASE_FD = None


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent still kills the child on a signal
        pass


def _wait_for(child: int, phase_fd: int, cluster: list[str]) -> int:
    def stop(signum, frame):
        raise _Stopped(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _, status = os.waitpid(child, 0)
    except _Stopped as stopped:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        print(_stop_message(stopped.signum, _formed(phase_fd), cluster), file=sys.stderr, flush=True)
        return 128 + stopped.signum
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _formed(phase_fd: int) -> bool:
    os.set_blocking(phase_fd, False)
    try:
        return os.read(phase_fd, 1) == b"f"
    except OSError:
        return False


def _stop_message(signum: int, formed: bool, cluster: list[str]) -> str:
    name = signal.Signals(signum).name
    if not formed:
        peers = f" ({', '.join(cluster)})" if cluster else ""
        return (f"tfm: stopped by {name} while waiting for the cluster's workers{peers} to join; "
                "nothing was trained")
    return (f"tfm: stopped by {name} during multi-worker training: the worker was killed (TensorFlow's "
            "collective ops cannot be interrupted); the last checkpoint written is kept")
