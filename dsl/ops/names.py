"""Names a body may use beyond ops: methods of values, static parameter types, Python-only names."""

from __future__ import annotations

# Methods callable on values of each kind, and whether the call must stand as its own statement
# (TensorArray writes return a new array that must be assigned back: `arr = arr.write(i, v)`).
# The methods that write a variable (each takes the new value, or the amount, as its one argument).
VARIABLE_UPDATES = frozenset({"assign", "assign_add", "assign_sub"})
VALUE_METHODS: dict[str, dict[str, tuple[int, int]]] = {
    # method: (min positional args, max positional args)
    "variable": {**{update: (1, 1) for update in sorted(VARIABLE_UPDATES)}, "read_value": (0, 0)},
    "array": {"write": (2, 2), "append": (1, 1), "read": (1, 1), "stack": (0, 0), "size": (0, 0),
              "concat": (0, 0), "gather": (1, 1), "pop": (0, 0)},
    "tape": {"watch": (1, 1), "gradient": (2, 2)},  # `tape.gradient` is checked on its own: dsl.gradients
}
ARRAY_UPDATES = frozenset({"write", "append"})
# `v = xs.pop()`: updates the list and has a value, so it stands alone or as an assignment's value.
ARRAY_POP = "pop"

# Types of constructor parameters that are plain Python values (usable in shapes and static loops).
STATIC_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def static_python_type(type_) -> type | None:
    """The Python type of a static parameter type (`int`; `tuple` for `int[2]` and `int[...]`; but not
    `bool[3]`, a tensor), else None."""
    if type_.shape is None:
        return STATIC_TYPES.get(type_.dtype)
    return tuple if static_tuple_length(type_) is not None or any_length_tuple(type_) else None


def static_tuple_length(type_) -> int | None:
    """`int[2]` as a constructor parameter's type: a tuple of 2 ints (Keras' `kernel_size=(3, 5)`), for
    which an int given stands for every item (`kernel_size=3` is `(3, 3)`). Its length, else None."""
    shape = type_.shape
    if type_.dtype != "int" or shape is None or len(shape) != 1 or shape[0].kind != "fixed":
        return None
    return shape[0].size


def any_length_tuple(type_) -> bool:
    """`int[...]` as a constructor parameter's type: a tuple of any length (Keras' `target_shape=(4, -1)`),
    its length known per instance from the value given (a tuple or list of ints; an int alone is not one)."""
    shape = type_.shape
    return type_.dtype == "int" and shape is not None and len(shape) == 1 and shape[0].kind == "rest"


def static_tuple_value(value: object, length: int) -> object:
    """A tuple parameter's construction-time value as the list of its `length` ints: an int repeated,
    a list kept (a list of another length, or a value of another kind, the checker reports)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * length
    return value


# Names a `.tfm` user may reach for that are Python-only inside a tf.function: a specific error each.
PYTHON_ONLY: dict[str, str] = {
    "np": "numpy runs once at trace time, so its values freeze into the graph; use the TF op",
    "numpy": "numpy runs once at trace time, so its values freeze into the graph; use the TF op",
    "random": "Python's random runs once at trace time; use random_normal or random_uniform",
    "len": "len() of a tensor is fixed at trace time; use shape(x)[0] or size(x)",
    "open": "file access is not available in .tfm",
    "input": "reading standard input is not available in .tfm",
    "eval": "tfm bodies can only call TF ops",
    "exec": "tfm bodies can only call TF ops",
    "__import__": "tfm bodies can only call TF ops",
    "Variable": "variables cannot be created inside a method; declare `var NAME: TYPE = INIT` in the module",
    "tf": "tfm bodies call ops by name (e.g. reduce_sum), not through the tf namespace",
    "list": "use a typed list: `xs: list[f32[]] = []`",
    "dict": "methods return named outputs: `-> (a: f32[], b: f32[])`",
    "float": "use cast(x, f32)",
    "int": "use cast(x, i32)",
    "isinstance": "tfm is statically typed; no runtime type tests",
}

