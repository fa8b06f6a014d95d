"""Apply the runtime settings with the seeds' `tf.config` calls, once, before any tensor exists; and
the device scope and `tf.distribute` strategy the settings ask for.

Tested on CPU (several logical CPU devices, local worker processes). The GPU calls (visible GPUs,
memory growth, memory limits, logical GPUs) are tested by recording the calls they make on a
machine without GPUs; they have not been run on a GPU. See docs/devices.md.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Callable

from tfm.dsl.diagnostics import first_line
from tfm.run.settings import ResolvedSettings, SettingsError


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


def apply_settings(resolved: ResolvedSettings, log: Callable[[str], None] = lambda message: None,
                   config=None) -> None:
    """Configure TensorFlow's devices as `resolved` says. `config` is `tf.config` (tests pass a
    recorder). A GPU asked for on a machine without one is said once and the CPU is used, unless
    `require_gpu`. Raises SettingsError naming the setting and its source."""
    import tensorflow as tf

    global _APPLIED
    if config is None and _APPLIED == resolved.settings:
        return  # applied already in this process (tfm.configure, then tfm.train)
    config = config or tf.config
    s = resolved.settings
    try:
        gpus = list(config.list_physical_devices("GPU"))
        if s.wants_gpu and not gpus:
            if s.require_gpu:
                raise SettingsError(f"require_gpu ({resolved.source('require_gpu')}): this machine has no GPU "
                                    "that TensorFlow can use")
            asked = [n for n in ("visible_gpus", "memory_growth", "memory_limit_mb", "device")
                     if resolved.sources.get(n) and (n != "device" or (s.device or "").startswith("GPU"))]
            log(f"tfm: no GPU found: running on the CPU ({', '.join(asked)} ignored)")
        gpus = _visible_gpus(config, gpus, resolved)
        for gpu in gpus:
            if s.memory_growth is not None:
                config.experimental.set_memory_growth(gpu, s.memory_growth)
        _logical_devices(config, gpus, resolved)
        if s.soft_placement is not None:
            config.set_soft_device_placement(s.soft_placement)
        if s.jit is True:  # "auto" is tfm train's choice between its own step with and without XLA
            config.optimizer.set_jit(True)
    except RuntimeError as exc:  # TensorFlow initialised its devices before these calls
        changed = ", ".join(f"{name} ({resolved.source(name)})" for name in resolved.sources) or "the settings"
        raise SettingsError(f"{changed}: device settings must be applied before TensorFlow runs anything "
                            f"({first_line(exc)}); apply them first (tfm.configure) or in a new "
                            "process") from None
    if s.device is not None and (not s.device.startswith("GPU") or gpus):
        _check_device(tf, resolved)
    if s.seed is not None:
        tf.keras.utils.set_random_seed(s.seed)
    if s.deterministic:
        tf.config.experimental.enable_op_determinism()
    if config is tf.config:
        _APPLIED = s


_APPLIED = None


def _visible_gpus(config, gpus: list, resolved: ResolvedSettings) -> list:
    wanted = resolved.settings.visible_gpus
    if wanted is None or not gpus:
        return gpus
    missing = [i for i in wanted if not 0 <= i < len(gpus)]
    if missing:
        raise SettingsError(f"visible_gpus = {wanted} ({resolved.source('visible_gpus')}): no GPU {missing[0]}; this "
                            f"machine has {len(gpus)} (0 to {len(gpus) - 1})")
    chosen = [gpus[i] for i in wanted]
    config.set_visible_devices(chosen, "GPU")
    return chosen


def _logical_devices(config, gpus: list, resolved: ResolvedSettings) -> None:
    """`logical_devices` splits the first visible GPU (each with `memory_limit_mb`) or else the CPU;
    `memory_limit_mb` alone caps each GPU as one logical device."""
    s = resolved.settings
    if gpus:
        limit = s.memory_limit_mb
        if s.logical_devices and s.logical_devices > 1 and limit is None:
            raise SettingsError(f"logical_devices = {s.logical_devices} ({resolved.source('logical_devices')}): "
                                "splitting a GPU needs memory_limit_mb, the memory of each part")
        for index, gpu in enumerate(gpus):
            count = s.logical_devices if index == 0 and s.logical_devices else 1
            if limit is not None or count > 1:
                config.set_logical_device_configuration(
                    gpu, [config.LogicalDeviceConfiguration(memory_limit=limit) for _ in range(count)])
    elif s.logical_devices and s.logical_devices > 1:
        cpu = config.list_physical_devices("CPU")[0]
        config.set_logical_device_configuration(cpu, [config.LogicalDeviceConfiguration()
                                                      for _ in range(s.logical_devices)])


def _check_device(tf, resolved: ResolvedSettings) -> None:
    name = resolved.settings.device
    known = [d.name.removeprefix("/device:") for d in tf.config.list_logical_devices()]
    if not any(k.endswith(name) for k in known):
        raise SettingsError(f"device = {name!r} ({resolved.source('device')}): no such device; this machine has: "
                            f"{', '.join(known)}")


def settings_device_scope(resolved: ResolvedSettings):
    """The `tf.device` scope for `device` (none when unset, or a GPU asked for where there is none)."""
    device = resolved.settings.device
    if device is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    if device.startswith("GPU") and not tf.config.list_physical_devices("GPU"):
        return contextlib.nullcontext()
    return tf.device(f"/device:{device}")


@contextlib.contextmanager
def placement(resolved: ResolvedSettings, strategy=None):
    """Where a model is built and run: under `strategy`'s scope (if any) and the `device` setting's device."""
    with strategy.scope() if strategy is not None else contextlib.nullcontext(), settings_device_scope(resolved):
        yield


def make_strategy(resolved: ResolvedSettings):
    """The tf.distribute strategy `strategy` names (None for `default`)."""
    import tensorflow as tf

    s = resolved.settings
    if s.strategy == "default":
        return None
    if s.strategy == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
            [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if s.workers:
        if s.task_index is None or s.task_index >= len(s.workers):
            raise SettingsError(f"task_index ({resolved.source('task_index')}) must name one of the "
                                f"{len(s.workers)} workers (0 to {len(s.workers) - 1})")
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": s.workers},
                                              "task": {"type": "worker", "index": s.task_index}})
    elif "TF_CONFIG" not in os.environ:
        raise SettingsError(f"strategy = 'multiworker' ({resolved.source('strategy')}) needs the cluster: set "
                            "TF_CONFIG, or workers (--workers host:port,...) and task_index (--task-index)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def device_report(resolved: ResolvedSettings) -> list[str]:
    """`tfm devices`: physical and logical devices (after applying the settings)."""
    import tensorflow as tf

    lines = ["physical devices:"]
    lines += [f"  {d.name} ({d.device_type})" for d in tf.config.list_physical_devices()]
    lines.append("logical devices:")
    lines += [f"  {d.name} ({d.device_type})" for d in tf.config.list_logical_devices()]
    if not tf.config.list_physical_devices("GPU"):
        lines.append("no GPU: TensorFlow sees none on this machine")
    return lines
