"""Device settings for running compiled modules: which device, GPU memory growth, logical devices.

Tested on CPU (including several logical CPU devices). GPU paths follow TensorFlow's documented
`tf.config` calls but have not been run on a GPU by the tfm tests; see docs/devices.md.
"""

from __future__ import annotations

import contextlib


def device_scope(device: str | None):
    """`tf.device(...)` for a name like `CPU:0` or `GPU:1`; a clear error if no such device exists."""
    if not device:
        return contextlib.nullcontext()
    import tensorflow as tf

    name = device if device.startswith("/") else f"/device:{device.upper()}"
    known = [d.name for d in tf.config.list_logical_devices()]
    if not any(k.endswith(name.removeprefix("/device:")) for k in known):
        raise ValueError(f"no device {device!r}; this machine has: {', '.join(known)}")
    return tf.device(name)


def configure(visible_gpus: list[int] | None = None, memory_growth: bool | None = None,
              memory_limit_mb: int | None = None, logical_cpus: int | None = None) -> None:
    """Apply the seeds' tf.config recipes. Must run before TensorFlow initialises its devices."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if visible_gpus is not None:
        tf.config.set_visible_devices([gpus[i] for i in visible_gpus], "GPU")
        gpus = [gpus[i] for i in visible_gpus]
    for gpu in gpus:
        if memory_growth is not None:
            tf.config.experimental.set_memory_growth(gpu, memory_growth)
        if memory_limit_mb is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit_mb)])
    if logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(logical_cpus)])
