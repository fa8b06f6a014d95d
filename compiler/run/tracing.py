"""`tfm trace`: the seeds' `tf.summary.trace_on` / `trace_export`, for one method of a built module.

The method is called once with the given inputs (zeros of its signature for the rest, 1 for each
unknown dimension) while TensorFlow records the graph; the graph goes to an event file TensorBoard
shows in its Graphs tab, grouped by the modules' name scopes.
"""

from __future__ import annotations

from pathlib import Path

from tfm.run.values import BadValue, RawValue


def trace_inputs(tf, function, values: dict[str, RawValue], method_name: str) -> list:
    """One tensor per input of `function`'s signature: the given value, else zeros."""
    specs = list(function.input_signature)
    unknown = sorted(set(values) - {spec.name for spec in specs})
    if unknown:
        raise BadValue(f"method {method_name} has no input {unknown[0]!r}; "
                       f"inputs: {', '.join(spec.name for spec in specs) or 'none'}")
    tensors = []
    for spec in specs:
        if spec.name in values:
            try:
                tensors.append(tf.constant(values[spec.name].value, dtype=spec.dtype))
            except (TypeError, ValueError) as exc:
                raise BadValue(f"--arg {spec.name}: cannot make a {spec.dtype.name} tensor: {exc}") from None
            continue
        shape = [1 if d is None else d for d in (spec.shape.as_list() if spec.shape.rank is not None else [])]
        tensors.append(tf.fill(shape, "") if spec.dtype == tf.string else tf.zeros(shape, spec.dtype))
    return tensors


def write_trace(instance, method, analysis, values: dict[str, RawValue], logdir: Path, profile: bool) -> Path:
    """Trace `method` of `instance` and write its graph under `logdir`; returns `logdir`."""
    import tensorflow as tf

    function = getattr(instance, method.name)
    tensors = trace_inputs(tf, function, values, method.name)
    logdir.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(logdir))
    tf.summary.trace_on(graph=True, profiler=profile, profiler_outdir=str(logdir) if profile else None)
    try:
        function(*tensors)
        with writer.as_default():
            tf.summary.trace_export(name=method.name, step=0)
    finally:
        tf.summary.trace_off()
        writer.flush()
        writer.close()
    return logdir
