"""Bounded work: what one `.tfm` source may make tfm and TensorFlow build, and the checks that count it.

A short file can ask for a lot: modules that each hold the previous one twice (2^40 instances), a
30000 x 30000 variable, a `static for` unrolled 200,000 times, `zeros([10**9, 10**9])`, a 2 MB list
literal. Each is counted before anything is built and refused past a documented limit (E056), which
the user can raise (`--limit NAME=VALUE`, or `Limits(...)` from Python) when it is intended. The
checker also stops after `errors` diagnostics, as compilers do, so its time stays linear in the input.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from . import nodes as n
from .dtypes import TABLE
from .folding import evaluate
from .diagnostics import Diagnostic, TooManyErrors, error

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


# Measured: a chain of 300 nested modules compiles, builds and traces within Python's default
# recursion limit (TensorFlow's module tracking and the tracing of nested method calls recurse per
# level); this leaves room for the caller's own stack.
MAX_SUBMODULE_DEPTH = 250


def _limit(default: int, doc: str):
    return dataclasses.field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Limits:
    """The limits, with their defaults. Every field is a positive int."""

    errors: int = _limit(100, "diagnostics reported before the checker stops")
    literal_elements: int = _limit(10_000, "numbers, names and strings in one list literal")
    submodules: int = _limit(10_000, "submodule instances one module builds, at every depth")
    variable_bytes: int = _limit(2**30, "bytes of the variables one module builds, its submodules' included")
    tensor_elements: int = _limit(2**28, "elements of one tensor whose size the checker knows (zeros, fill, ...)")
    unrolled_iterations: int = _limit(10_000, "iterations of `static for` in one method, nested loops multiplied")
    submodule_depth: int = _limit(100, f"levels of submodules inside submodules (at most {MAX_SUBMODULE_DEPTH})")

    def __post_init__(self):
        if self.submodule_depth > MAX_SUBMODULE_DEPTH:
            raise ValueError(f"submodule_depth can be at most {MAX_SUBMODULE_DEPTH}: each level is a few "
                             "nested Python calls when TensorFlow builds and traces the module")

    @classmethod
    def describe(cls) -> list[tuple[str, int, str]]:
        """(name, default, meaning) of each limit, for help text and docs."""
        described = []
        for f in dataclasses.fields(cls):
            assert isinstance(f.default, int)  # every field is a _limit
            described.append((f.name, f.default, f.metadata["doc"]))
        return described

    def with_overrides(self, items: list[str]) -> Limits:
        """A copy with `NAME=VALUE` items applied (VALUE an int, with an optional k/M/G/KiB/MiB/GiB suffix)."""
        changes = {}
        names = {f.name for f in dataclasses.fields(self)}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in names:
                raise ValueError(f"--limit takes NAME=VALUE with NAME one of {', '.join(sorted(names))}; got {item!r}")
            changes[name] = _parse_amount(text, name)
        try:
            return dataclasses.replace(self, **changes)
        except ValueError as exc:
            raise ValueError(f"--limit {exc}") from None


def _parse_amount(text: str, name: str) -> int:
    match = re.fullmatch(r"\s*([0-9]+)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS or int(match.group(1)) * _UNITS[unit] < 1:
        raise ValueError(f"--limit {name}: {text!r} is not a positive whole number (e.g. 5000, 2GiB)")
    return int(match.group(1)) * _UNITS[unit]


DTYPE_BYTES = {row.name: row.size for row in TABLE}


def over_limit(what: str, amount: int, limit_name: str, limit: int) -> tuple[str, str]:
    """The message and hint of E056: what would be built, how much, and the limit that refuses it."""
    return (f"{what}: {amount:,} is more than the limit of {limit:,} ({limit_name})",
            f"if this is intended, raise it: --limit {limit_name}={amount}")


def too_many_errors(span: n.Span, limit: int) -> Diagnostic:
    return error("E056", span, f"stopped after {limit} errors", "fix these first, or see more: --limit errors=N")


class DiagnosticList(list):
    """The analysis's diagnostics; the first `limit` are kept and the checker stops at the next."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def append(self, diagnostic: Diagnostic) -> None:
        if len(self) >= self.limit:
            raise TooManyErrors()
        super().append(diagnostic)


# A number, name, string or bracket: enough to count a list literal's items without parsing it.
_TOKEN = re.compile(r"""#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[\[\]()]|[A-Za-z_0-9.]+""")


# No 64-bit number has more digits than this; Python refuses to convert ints of over 4,300 digits.
MAX_INT_DIGITS = 1000
_SURROGATE = re.compile("[\ud800-\udfff]")


def too_long_int(digits: int, span: n.Span) -> Diagnostic:
    return error("E023", span, f"integer literal of {digits:,} digits does not fit in 64 bits",
                 f"the largest i64 is {2**63 - 1}")


def scan_source(text: str, file: str, limits: Limits) -> list[Diagnostic]:
    """What must be refused before parsing: text that is not Unicode (a lone surrogate, which only a
    str from Python can hold: files are decoded as UTF-8), integer literals too long to convert, and
    list literals with more than `limits.literal_elements` items."""
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        return [error("E005", _span(text, file, surrogate.start()),
                      f"the text holds a lone surrogate U+{ord(surrogate.group()):04X}, which is not Unicode",
                      "give tfm text decoded from UTF-8")]
    return scan_literals(text, file, limits.literal_elements)


def scan_literals(text: str, file: str, limit: int) -> list[Diagnostic]:
    """List literals with more than `limit` items, found before parsing (a parse of a 2 MB literal
    would build millions of nodes), and integer literals of more than MAX_INT_DIGITS digits (which
    no dtype holds, and Python would refuse to convert). Counts the numbers, names and strings inside
    each outermost `[...]`."""
    found: list[Diagnostic] = []
    depth, count, start = 0, 0, 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == "#":
            continue
        if len(token) > MAX_INT_DIGITS and token.isdigit():
            found.append(too_long_int(len(token), _span(text, file, match.start())))
        if token == "[":
            depth, count, start = depth + 1, count if depth else 0, start if depth else match.start()
        elif token == "]" and depth:
            depth -= 1
            if depth == 0 and count > limit:
                found.append(error("E056", _span(text, file, start), *over_limit(
                    "a list literal with too many items", count, "literal_elements", limit)))
        elif depth and token not in "()":
            count += 1
    return found


def _span(text: str, file: str, offset: int) -> n.Span:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return n.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)


def check_budget(analysis, limits: Limits) -> None:
    """E056 for each module whose construction, or method whose tracing, passes a limit. Sizes given by
    `int` parameters use their defaults (values given at construction are the caller's own choice)."""
    if max(nesting_depths(analysis).values(), default=0) > limits.submodule_depth:
        return  # refused by the checker; costing it would recurse once per level
    costs: dict[tuple, tuple[int, int]] = {}
    over: set[str] = set()
    for module in analysis.program.modules:
        env = _int_values(analysis.parameter_values(module.name))
        instances, size = _module_cost(analysis, module.name, env, costs, ())
        crossed = not any(sub.module in over for sub in module.submodules)
        if instances > limits.submodules:
            over.add(module.name)
            if crossed:
                analysis.report("E056", module, *over_limit(f"module `{module.name}` builds submodule "
                                                       "instances", instances, "submodules", limits.submodules))
        elif size > limits.variable_bytes:
            over.add(module.name)
            if crossed:
                analysis.report("E056", module, *over_limit(f"module `{module.name}` builds variables of "
                                                       "this many bytes", size, "variable_bytes", limits.variable_bytes))
        for method in module.methods:
            _check_unrolling(analysis, method.body, env, 1, limits)


def nesting_depths(analysis) -> dict[str, int]:
    """How many levels of submodules each module holds (0: none), without recursion. A cycle
    (reported as E038) is cut where it closes."""
    def held(name: str) -> list[str]:
        info = analysis.modules.get(name)
        return [sub.module for sub in info.submodules.values() if sub.module in analysis.modules] if info else []

    depths: dict[str, int] = {}
    for root in analysis.program.modules:
        if root.name in depths:
            continue
        stack, open_ = [(root.name, iter(held(root.name)))], {root.name}
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                open_.discard(name)
                depths[name] = max((depths[c] + 1 for c in held(name) if c in depths), default=0)
            elif child not in depths and child not in open_:
                open_.add(child)
                stack.append((child, iter(held(child))))
    return depths


def _module_cost(analysis, name: str, env: dict, costs: dict, stack: tuple) -> tuple[int, int]:
    """(submodule instances, variable bytes) of one instance of module `name` with parameters `env`."""
    info = analysis.modules.get(name)
    key = (name, tuple(sorted(env.items())))
    if info is None or info.decl is None or name in stack:
        return 0, 0
    if key not in costs:
        size = sum(_variable_bytes(var, env) for var in info.variables.values())
        instances = 0
        for sub in info.submodules.values():
            sub_env = _bind_arguments(analysis, sub, env)
            sub_instances, sub_size = _module_cost(analysis, sub.module, sub_env, costs, (*stack, name))
            instances += 1 + sub_instances
            size += sub_size
        costs[key] = (instances, size)
    return costs[key]


def _variable_bytes(var: n.VarDecl, env: dict) -> int:
    dims = [d.size if d.kind == "fixed" else env.get(d.name) for d in var.type.shape or ()]
    sizes = [d for d in dims if isinstance(d, int) and d >= 0]
    if len(sizes) < len(dims):  # unknown, or negative: a negative size is reported as such (E023)
        return 0
    return math.prod(sizes) * DTYPE_BYTES.get(var.type.dtype, 8)


def _bind_arguments(analysis, sub: n.SubDecl, env: dict) -> dict:
    target = analysis.modules.get(sub.module)
    if target is None or target.decl is None:
        return {}
    return _int_values(analysis.parameter_values(sub.module, analysis.sub_argument_values(sub, env)))


def _int_values(values: dict[str, object]) -> dict[str, int]:
    return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}


def static_int(node: n.Node, env: dict) -> int | None:
    """The value of a construction-time int expression (dsl.folding.evaluate), else None."""
    value = evaluate(node, env)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_unrolling(analysis, body: tuple, env: dict, factor: int, limits: Limits) -> None:
    for stmt in body:
        if isinstance(stmt, n.For) and stmt.static:
            # a `static for` over anything but `range(...)` is refused by the check (E033): count it once
            args = stmt.iter.args if isinstance(stmt.iter, n.Call) else ()
            bounds = [static_int(a, env) for a in args]
            known = [b for b in bounds if b is not None]
            count = _range_length(known) if known and len(known) == len(bounds) and 0 not in known[2:] else 1
            if factor * count > limits.unrolled_iterations:
                analysis.report("E056", stmt, *over_limit("`static for` unrolls this many iterations",
                                                       factor * count, "unrolled_iterations",
                                                       limits.unrolled_iterations))
                continue
            _check_unrolling(analysis, stmt.body, env, factor * count, limits)
        else:
            for name in ("body", "orelse"):
                _check_unrolling(analysis, getattr(stmt, name, ()), env, factor, limits)


def _range_length(bounds: list[int]) -> int:
    """len(range(*bounds)) for any ints (len() itself overflows past sys.maxsize)."""
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (bounds[0], bounds[1], bounds[2] if len(bounds) > 2 else 1)
    return max(0, (stop - start + step - (1 if step > 0 else -1)) // step)
