"""tfm train under tf.distribute: the step run on every replica, the data split over them, and which
worker writes (checkpoints and summaries are the chief's)."""

from __future__ import annotations

from pathlib import Path


def distributed_step(tf, strategy, function):
    """The training method run on every replica (`strategy.run` of its Python function: a tf.function
    with an input signature cannot take per-replica values), its scalar outputs averaged."""
    inner = function.python_function

    def step(*inputs):
        outputs = strategy.run(inner, args=inputs)
        items = outputs.items() if isinstance(outputs, dict) else [("output_0", outputs)]
        reduced = {}
        for name, value in items:
            if strategy.experimental_local_results(value)[0].shape.rank == 0:
                reduced[name] = strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
        return reduced

    return tf.function(step)


def distribute(tf, strategy, batches):
    """Each global batch split over the replicas (of every worker), in order."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(batches.with_options(options))


def is_chief_only(strategy) -> bool:
    """No other worker takes part (no strategy, or one of a single process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.task_type


def is_chief(strategy) -> bool:
    """Worker 0 writes checkpoints and summaries (the only worker without multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def write_directory(directory: Path, strategy) -> Path:
    if is_chief(strategy):
        return directory
    return directory.parent / f".{directory.name}.worker-{strategy.cluster_resolver.task_id}.tmp"


__all__ = ["distribute", "distributed_step", "is_chief", "is_chief_only", "write_directory"]
