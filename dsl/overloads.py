"""Methods declared with several signatures: `fn call(x: f32[N, D] | f32[N, T, D]) -> ...`.

A `|` in an input or output type lists that type for each signature, in order; every input and
output with a `|` lists the same number of types, and one without it is the same in all. Each
signature becomes a method of its own, `call_1`, `call_2`, ... (its own `tf.function`, concrete
function and SavedModel signature), with its own copy of the body, so every later stage checks,
types and compiles it like any other method. Callers use the declared name: inside `.tfm`, a call
picks the signature its arguments fit (dsl/inference.py); in Python, the generated `call` does.
"""

from __future__ import annotations

import dataclasses
from typing import overload

from . import nodes as n
from .diagnostics import fail

# Each signature copies the body, so a line of `|`s could multiply a large body thousands of times.
MAX_SIGNATURES = 64


def signature_names(method: n.Method) -> tuple[str, ...]:
    """The methods `method` becomes: itself, or one per signature when its types list several."""
    count = _signature_count(method)
    return (method.name,) if count == 1 else tuple(f"{method.name}_{k}" for k in range(1, count + 1))


def expand_signatures(members: tuple) -> tuple:
    """`members` with each method of several signatures replaced by one method per signature."""
    taken = {member.name for member in members}
    expanded = []
    for member in members:
        names = signature_names(member) if isinstance(member, n.Method) else ()
        if len(names) <= 1:
            expanded.append(member)
            continue
        for name in names:
            if name in taken:
                raise fail("E060", member, f"`{member.name}` has {len(names)} signatures, named "
                           f"{', '.join(names)}, but `{name}` is already a member of this module",
                           f"rename `{name}` or `{member.name}`")
        signatures = [_one_signature(member, index, name) for index, name in enumerate(names)]
        _check_reachable(member, signatures)
        expanded += signatures
    return tuple(expanded)


def _check_reachable(method: n.Method, signatures: list[n.Method]) -> None:
    """A call by the declared name runs the first signature the inputs fit, so a signature whose
    every input an earlier one already takes would never run: E060."""
    for later_index, later in enumerate(signatures):
        for earlier in signatures[:later_index]:
            if all(_covers(a.type, b.type) for a, b in zip(earlier.inputs, later.inputs)):
                raise fail("E060", method, f"`{later.name}` takes only inputs `{earlier.name}` takes too, so a call "
                           f"of `{method.name}` would never run it",
                           "give each signature inputs of a different rank, dtype or fixed size")


def _covers(wide: n.TensorType | n.TypeChoice, narrow: n.TensorType | n.TypeChoice) -> bool:
    # Inputs of one signature: each `|` already picked (`_one_signature`).
    assert isinstance(wide, n.TensorType) and isinstance(narrow, n.TensorType)
    if wide.dtype != narrow.dtype:
        return False
    if wide.shape is None or narrow.shape is None:
        return wide.shape is None and narrow.shape is None
    return len(wide.shape) == len(narrow.shape) and all(
        w.kind != "fixed" or (v.kind == "fixed" and v.size == w.size) for w, v in zip(wide.shape, narrow.shape))


def _types(method: n.Method) -> list[n.TensorType | n.TypeChoice | None]:
    outputs = method.returns if isinstance(method.returns, tuple) else (method.returns,)
    return [i.type for i in method.inputs] + [o.type if isinstance(o, n.NamedOutput) else o for o in outputs]


def _signature_count(method: n.Method) -> int:
    """How many signatures the method's `|` types list (1 without any); E060 if they disagree."""
    choices = [t for t in _types(method) if isinstance(t, n.TypeChoice)]
    if not choices:
        return 1
    count = len(choices[0].options)
    if count > MAX_SIGNATURES:
        raise fail("E056", choices[0], f"`{method.name}` lists {count} signatures; a method may have at most "
                   f"{MAX_SIGNATURES}", "split it into methods of fewer signatures")
    for choice in choices[1:]:
        if len(choice.options) != count:
            raise fail("E060", choice, f"this lists {len(choice.options)} types, but an earlier `|` in the "
                       f"signature of `{method.name}` lists {count}",
                       "give each input and output with a `|` one type per signature, in the same order")
    return count


@overload
def _pick(type_: n.TensorType | n.TypeChoice, index: int) -> n.TensorType: ...
@overload
def _pick(type_: n.TensorType | n.TypeChoice | None, index: int) -> n.TensorType | None: ...
def _pick(type_: n.TensorType | n.TypeChoice | None, index: int) -> n.TensorType | None:
    return type_.options[index] if isinstance(type_, n.TypeChoice) else type_


def _one_signature(method: n.Method, index: int, name: str) -> n.Method:
    inputs = tuple(n.MethodInput(span=i.span, identifier=i.identifier, type=_pick(i.type, index))
                   for i in method.inputs)
    if isinstance(method.returns, tuple):
        returns = tuple(n.NamedOutput(span=o.span, identifier=o.identifier, type=_pick(o.type, index))
                        for o in method.returns)
    else:
        returns = _pick(method.returns, index)
    attrs = method.attrs if index == 0 else tuple(a for a in method.attrs if a.id != "serving")
    body = method.body if index == 0 else copy_tree(method.body)
    identifier = n.Identifier(span=method.identifier.span, text=name)
    return n.Method(span=method.span, identifier=identifier, inputs=inputs, returns=returns, attrs=attrs,
                    body=body, overload=method.name)


def copy_tree(value):
    """The same syntax, new nodes: later stages key their tables by node, so each signature's body
    must be its own (its types differ)."""
    if isinstance(value, n.Node):
        fields = dict(zip(n.child_fields(value), (copy_tree(v) for v in n.child_values(value))))
        return dataclasses.replace(value, **fields)
    if isinstance(value, tuple):
        return tuple(copy_tree(item) for item in value)
    return value
