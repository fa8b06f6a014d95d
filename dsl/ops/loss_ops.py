"""Losses: TensorFlow's and the Keras-style runtime helpers, entries and type rules."""

from __future__ import annotations

from ..tensor_types import INTS, UNKNOWN, TensorT, Type, dims_conflict, unify_dtype
from .registry import Op, op
from .result_typing import RuleContext, binary


_UNSEEN = object()  # a static argument whose value the check cannot see (a constructor parameter)


def per_example_loss(ctx: RuleContext) -> Type:
    """A loss per example, over the last axis: labels and predictions of one shape (TensorFlow's
    cross-entropies do not broadcast them), the predictions' shape without its last axis."""
    labels, predictions = _same_shape_pair(ctx)
    base = predictions or UNKNOWN
    return TensorT(base.dtype, None if not base.shape else base.shape[:-1])


def elementwise_loss(ctx: RuleContext) -> Type:
    labels, predictions = _same_shape_pair(ctx)
    return TensorT((predictions or UNKNOWN).dtype, None if predictions is None else predictions.shape)


def _same_shape_pair(ctx: RuleContext) -> tuple[TensorT | None, TensorT | None]:
    names = [p.name for p in ctx.op.params[:2]]
    labels, predictions = ctx.tensor(names[0]), ctx.tensor(names[1])
    if labels is None or predictions is None:
        return labels, predictions
    _, problem = unify_dtype(labels, predictions)
    if problem:
        ctx.report("E040", None, f"`{ctx.op.name}` mixes {problem}", "cast the labels to the predictions' dtype")
    if labels.shape is not None and predictions.shape is not None and (len(labels.shape) != len(predictions.shape)
                                                                       or any(map(dims_conflict, labels.shape, predictions.shape))):
        ctx.report("E041", None, f"`{ctx.op.name}`: labels {labels} and predictions {predictions} differ in shape",
                "labels and predictions have one shape")
    return labels, predictions


def sparse_loss(ctx: RuleContext) -> Type:
    """Integer labels, one per example: the predictions' shape without its last axis."""
    names = [p.name for p in ctx.op.params[:2]]
    labels, predictions = ctx.tensor(names[0]) or UNKNOWN, ctx.tensor(names[1]) or UNKNOWN
    if labels.dtype is not None and labels.dtype not in INTS:
        ctx.report("E023",
                ctx.arg_node(names[0]),
                f"`{ctx.op.name}` labels must be integer class ids, got {labels}",
                "use categorical_crossentropy for one-hot or soft labels")
    expected = None if not predictions.shape else predictions.shape[:-1]
    if labels.shape is not None and expected is not None and (
            len(labels.shape) != len(expected) or any(map(dims_conflict, labels.shape, expected))):
        ctx.report("E041", ctx.arg_node(names[0]), f"`{ctx.op.name}`: labels {labels} for predictions {predictions}",
                "one label per example: the labels' shape is the predictions' without the last axis")
    reduction = ctx.static("reduction", _UNSEEN) if ctx.op.param("reduction") else "none"
    if reduction is not _UNSEEN and reduction != "none":
        return TensorT(predictions.dtype, ())
    return TensorT(predictions.dtype, None if reduction is _UNSEEN else expected)


def keras_loss(ctx: RuleContext) -> Type:
    """A keras.losses loss: labels and predictions of one shape, a loss per example over `axis` (the
    last by default), or a scalar when `reduction` is not "none"."""
    labels, predictions = _same_shape_pair(ctx)
    dtype = (predictions or UNKNOWN).dtype
    reduction = ctx.static("reduction", _UNSEEN)  # unseen: a constructor parameter, known when built
    if reduction is _UNSEEN:
        return TensorT(dtype, None)
    if reduction != "none":
        return TensorT(dtype, ())
    axis = ctx.static("axis", _UNSEEN) if ctx.op.param("axis") else -1
    shape = None if predictions is None else predictions.shape
    if not shape or not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        return TensorT(dtype, None)
    kept = [dim for k, dim in enumerate(shape) if k != axis % len(shape)]
    return TensorT(dtype, tuple(kept))


def scalar_loss(ctx: RuleContext) -> Type:
    result = binary(ctx)
    return TensorT(result.dtype if isinstance(result, TensorT) else None, ())


# A Keras Loss object's reductions ("none": a loss per example, the Keras function's result)
_REDUCTIONS = "one_of none sum mean sum_over_batch_size"
_LOSS_STATIC = {"delta": "number", "axis": "axis", "apply_class_balancing": "bool", "alpha": "number",
                "gamma": "number", "from_logits": "bool", "label_smoothing": "number"}


def _keras_loss(name: str, own: str) -> Op:
    """The entry of keras.losses' `name` (its runtime helper `_name`): labels, predictions, the loss's own
    static parameters with Keras' defaults, then the reduction of a Keras Loss object."""
    params = ", ".join(filter(None, ("y_true, y_pred", own, "reduction:static='none'")))
    own_names = [item.split(":")[0].strip() for item in own.split(",") if item.strip()]
    static = ", ".join([f"{param}: {_LOSS_STATIC[param]}" for param in own_names]
                       + [f"reduction: {_REDUCTIONS}"])
    return op(name, f"_{name}", params, "loss", keras_loss, dtypes="y_true y_pred: float", ranks="y_pred: 1+",
              static=static)


OPS = (
    op("softmax_cross_entropy_with_logits", "tf.nn.softmax_cross_entropy_with_logits", "labels, logits", "loss",
       per_example_loss, dtypes="labels logits: float", ranks="labels logits: 1+", converted_alone=True),
    op("sparse_softmax_cross_entropy_with_logits", "tf.nn.sparse_softmax_cross_entropy_with_logits",
       "labels, logits", "loss", sparse_loss, dtypes="labels: i32 i64, logits: float", ranks="logits: 1+",
       examples=("v, x",)),
    op("sigmoid_cross_entropy_with_logits", "tf.nn.sigmoid_cross_entropy_with_logits", "labels, logits", "loss",
       elementwise_loss, dtypes="labels logits: float", converted_alone=True),
    _keras_loss("categorical_crossentropy", "from_logits:static=False, label_smoothing:static=0.0, axis:static=-1"),
    op("sparse_categorical_crossentropy", "_sparse_categorical_crossentropy",
       "y_true, y_pred, from_logits:static=False, reduction:static='none'", "loss", sparse_loss,
       dtypes="y_true: i32 i64, y_pred: float", ranks="y_pred: 2+",
       static=f"from_logits: bool, reduction: {_REDUCTIONS}", examples=("v, x", "v, x, from_logits=True")),
    _keras_loss("binary_crossentropy", "from_logits:static=False, label_smoothing:static=0.0, axis:static=-1"),
    *(_keras_loss(name, params) for name, params in (
        ("huber", "delta:static=1.0"), ("log_cosh", ""), ("kl_divergence", ""), ("poisson", ""), ("hinge", ""),
        ("squared_hinge", ""), ("categorical_hinge", ""), ("cosine_similarity", "axis:static=-1"),
        ("mean_absolute_percentage_error", ""), ("mean_squared_logarithmic_error", ""),
        ("binary_focal_crossentropy", "apply_class_balancing:static=False, alpha:static=0.25, gamma:static=2.0, "
                                      "from_logits:static=False, label_smoothing:static=0.0, axis:static=-1"),
        ("categorical_focal_crossentropy", "alpha:static=0.25, gamma:static=2.0, from_logits:static=False, "
                                           "label_smoothing:static=0.0, axis:static=-1"))),
    op("mean_squared_error", "_mean_squared_error", "y_true, y_pred", "loss", scalar_loss,
       dtypes="y_true y_pred: float i32 i64 complex"),
    op("mean_absolute_error", "_mean_absolute_error", "y_true, y_pred", "loss", scalar_loss,
       dtypes="y_true y_pred: float sint"),
)
