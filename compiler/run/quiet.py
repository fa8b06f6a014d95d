"""Keep TensorFlow's own start-up noise (absl, oneDNN, CUDA probes: lines C++ writes to file descriptor
2 even with TF_CPP_MIN_LOG_LEVEL=3) off the user's terminal, and hand it over when something fails.

Only TensorFlow's import and device start-up are captured: a model's own output (`print` in a method
is tf.print, which writes to the same descriptor) always reaches the user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile


class Captured:
    """What was written to file descriptor 2 inside the block (up to 1 MiB), once it has ended."""

    text = ""


@contextlib.contextmanager
def native_stderr_captured(enabled: bool = True):
    """Redirect file descriptor 2 to a temporary file inside the block; yields a Captured."""
    captured = Captured()
    if not enabled:
        yield captured
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as handle:
        os.dup2(handle.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            handle.seek(0)
            captured.text = handle.read(1 << 20).decode("utf-8", "replace")


def quiet_python_logs() -> None:
    """TensorFlow's and absl's Python loggers: errors only (`-v` leaves them as they are)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
