"""Generators of `.tfm` input for the fuzz tests: grammar-shaped programs and mutated examples.

`programs()` is a hypothesis strategy of sources built the way the grammar does (modules, members,
statements, expressions), with hostile names and literals mixed in, so most cases get past the
parser into the checker, inference and generator. `mutations()` damages the examples by deleting,
duplicating and swapping tokens and lines.
"""

from __future__ import annotations

import random
import re

from hypothesis import strategies as st

from tfm.dsl.ops import DTYPES, OPS

NAMES = ["x", "y", "z", "a", "b", "w", "n", "total", "i", "h", "loss", "tape", "xs", "k"]
HOSTILE_NAMES = ["lambda", "__import__", "tf", "self", "None", "class", "exec", "_x", "__class__", "print",
                 "name", "variables", "range", "np", "super", "eval", "open", "os"]
DTYPE_NAMES = [*DTYPES, "int", "float", "bool", "str", "float32", "f128"]
OP_NAMES = sorted(OPS) + ["np", "len", "open", "GradientTape", "Dense", "SGD", "normal", "zeros", "nope"]
STRING_CHARS = ['a', 'Z', ' ', '"', "'", "\\", "\n", "\x00", "\t", "é", "\u202e", "{", "}", "%"]
_ESCAPES = {'"': '\\"', "'": "\\'", "\\": "\\\\", "\n": "\\n", "\x00": "\\0", "\t": "\\t", "\r": "\\r"}

def string_literal(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


class ProgramGenerator:
    """Builds a source the way the grammar does, each choice drawn from `rng`.

    Plain functions over a Random rather than nested hypothesis strategies: drawing from composite
    strategies cost about 35 ms a program here, this about 0.1 ms, so CI can afford thousands.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, options):
        return self.rng.choice(options)

    def name(self) -> str:
        return self.pick(HOSTILE_NAMES) if self.rng.random() < 0.1 else self.pick(NAMES)

    def literal(self) -> str:
        kind = self.rng.randrange(6)
        if kind == 0:
            return str(self.rng.randint(-5, 10))
        if kind == 1:
            return self.pick(["0", "1", "2", "3", "99999999999999999999999", "2147483648"])
        if kind == 2:
            return repr(round(self.rng.uniform(-1e3, 1e3), 3))
        if kind == 3:
            return self.pick(["1e999", "1e-3", "0.5", ".5", "2."])
        if kind == 4:
            return string_literal("".join(self.pick(STRING_CHARS) for _ in range(self.rng.randrange(6))))
        return self.pick(["True", "False"])

    def expression(self, depth: int = 0) -> str:
        if depth > 2 or self.rng.random() < 0.4:
            return self.pick([self.literal, self.name, lambda: self.pick(DTYPE_NAMES)])()
        kind = self.rng.randrange(7)
        sub = lambda: self.expression(depth + 1)  # noqa: E731
        args = lambda: ", ".join(sub() for _ in range(self.rng.randrange(4)))  # noqa: E731
        if kind == 0:
            op = self.pick(["+", "-", "*", "/", "//", "%", "@", "**", "==", "<", ">=", "and", "or"])
            return f"({sub()} {op} {sub()})"
        if kind == 1:
            return f"{self.pick(['-', 'not '])}{sub()}"
        if kind == 2:
            keyword = f"{self.pick(['axis', 'keepdims', 'dtype', 'from_logits', 'seed', 'bogus'])}={sub()}"
            parts = [p for p in (args(), keyword if self.rng.random() < 0.3 else "") if p]
            return f"{self.pick(OP_NAMES)}({', '.join(parts)})"
        if kind == 3:
            method = self.pick(["assign", "assign_add", "stack", "read", "append", "call", "foo"])
            return f"{self.name()}.{method}({args()})"
        if kind == 4:
            return f"{sub()}[{self.pick(['0', ':', ':, 0', 'None, :', '1:2', '...', 'i'])}]"
        if kind == 5:
            return "[" + args() + "]"
        return f"({sub()})"

    def dims(self) -> str:
        options = ["0", "1", "2", "3", "5", "N", "?", "None", "n", "k", "M"]
        return "[" + ", ".join(self.pick(options) for _ in range(self.rng.randrange(4))) + "]"

    def tensor_type(self) -> str:
        return self.pick(DTYPE_NAMES) + self.dims()

    def any_type(self) -> str:
        kind = self.rng.randrange(3)
        if kind == 0:
            return self.pick(["int", "float", "bool", "str", "f32"])
        return self.tensor_type() if kind == 1 else f"list[{self.tensor_type()}]"

    def block(self, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(self.rng.randint(1, 3)):
            lines.extend(self.statement(depth))
        return lines

    def statement(self, depth: int) -> list[str]:
        if depth >= 2 or self.rng.random() < 0.6:
            return [self.simple_statement()]
        kind = self.pick(["if", "for", "static for", "while", "with"])
        header = {
            "if": lambda: f"if {self.expression()}:",
            "for": lambda: f"for {self.name()} in range({self.expression()}):",
            "static for": lambda: f"static for {self.name()} in range({self.expression()}):",
            "while": lambda: f"while {self.expression()}:",
            "with": lambda: f"with GradientTape() as {self.name()}:",
        }[kind]()
        lines = [header, *_indent(self.block(depth + 1))]
        if kind == "if" and self.rng.random() < 0.5:
            lines += ["else:", *_indent(self.block(depth + 1))]
        return lines

    def simple_statement(self) -> str:
        kind = self.rng.randrange(6)
        if kind == 0:
            return f"{self.name()} = {self.expression()}"
        if kind == 1:
            return f"{self.name()}: {self.any_type()} = {self.expression()}"
        if kind == 2:
            return f"{self.name()} {self.pick(['+=', '-=', '*=', '/='])} {self.expression()}"
        if kind == 3:
            return "return " + ", ".join(self.expression() for _ in range(self.rng.randrange(3)))
        if kind == 4:
            return self.expression()
        return self.pick(["pass", "break", "continue", "xs: list[f32[]] = []", "xs.append(1.0)"])

    def member(self) -> list[str]:
        kind = self.pick(["var", "state", "sub", "fn", "fn"])
        if kind in ("var", "state"):
            return [f"{kind} {self.name()}: {self.tensor_type()} = {self.expression()}"]
        if kind == "sub":
            module = self.pick(["Dense", "SGD", "Adam", "M", "Nope"])
            args = ", ".join(self.expression() for _ in range(self.rng.randrange(4)))
            return [f"sub {self.name()} = {module}({args})"]
        inputs = ", ".join(f"{self.name()}: {self.tensor_type()}" for _ in range(self.rng.randrange(4)))
        returns = self.pick(["", f" -> {self.tensor_type()}",
                             f" -> ({self.name()}: {self.tensor_type()}, {self.name()}: {self.tensor_type()})"])
        attrs = [self.pick(["@serving", "@jit", "@nope"])] if self.rng.random() < 0.2 else []
        return [*attrs, f"fn {self.name()}({inputs}){returns}:", *_indent(self.block(0))]

    def program(self) -> str:
        lines: list[str] = []
        for _ in range(self.rng.randint(1, 2)):
            params = ", ".join(
                f"{self.name()}: {self.any_type()}" + (f" = {self.expression()}" if self.rng.random() < 0.5 else "")
                for _ in range(self.rng.randrange(3)))
            header = f"module {self.pick(['M', 'Model', 'M', 'Dense', 'SGD', 'tf'])}"
            lines.append(header + (f"({params})" if params else "") + ":")
            for _ in range(self.rng.randint(1, 3)):
                lines.extend(_indent(self.member()))
        return "\n".join(lines) + "\n"


class WellTypedGenerator:
    """Programs that should pass every check: f32 tensors of shape [N, n] through random ops and
    control flow. They test that what tfm accepts, TensorFlow runs."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.defined: list[str] = []

    def matrix(self, depth: int = 0) -> str:
        """An f32[N, n] expression."""
        r = self.rng
        if depth > 2 or r.random() < 0.3:
            return r.choice(["x", *self.defined])
        e = lambda: self.matrix(depth + 1)  # noqa: E731
        return r.choice([
            lambda: f"relu({e()})", lambda: f"tanh({e()})", lambda: f"sigmoid({e()})",
            lambda: f"({e()} + {e()})", lambda: f"({e()} * {r.choice(['2.0', '0.5', '-1.0'])})",
            lambda: f"({e()} @ w)", lambda: f"({e()} + b)", lambda: f"-{e()}",
            lambda: f"where({e()} > 0.0, {e()}, {e()} * 0.1)", lambda: f"{e()}[:, None, :][:, 0, :]",
            lambda: f"softmax({e()}, axis=-1)", lambda: f"maximum({e()}, {e()})",
            lambda: f"clip({e()}, -1.0, 1.0)", lambda: f"({e()} - reduce_mean({e()}, axis=1, keepdims=True))",
        ])()

    def scalar(self) -> str:
        return self.rng.choice([f"reduce_sum({self.matrix()})", f"reduce_mean({self.matrix()})",
                                f"reduce_max({self.matrix()})"])

    def statements(self, depth: int) -> list[str]:
        r = self.rng
        kind = r.choice(["assign", "assign", "if", "for", "static", "while", "list"] if depth < 2 else ["assign"])
        name = r.choice(["h", "g", "k"])
        if kind == "assign":
            lines = [f"{name} = {self.matrix()}"]
        elif kind == "if":
            lines = [f"if {self.scalar()} > 0.0:", f"    {name} = {self.matrix()}", "else:",
                     f"    {name} = {self.matrix()}"]
        elif kind == "for":
            lines = [f"{name} = {self.matrix()}", "for i in range(3):",
                     *["    " + line for line in self.body(depth + 1, name)]]
        elif kind == "static":
            lines = [f"{name} = {self.matrix()}", "static for i in range(n):",
                     *["    " + line for line in self.body(depth + 1, name)]]
        elif kind == "while":
            lines = [f"{name} = {self.matrix()}", "steps = 0", "while steps < 2:", "    steps += 1",
                     *["    " + line for line in self.body(depth + 1, name)]]
        else:
            lines = ["rows: list[f32[None, n]] = []", "for i in range(2):", f"    rows.append({self.matrix()})",
                     f"{name} = reduce_mean(rows.stack(), axis=0)"]
        if name not in self.defined:
            self.defined.append(name)
        return lines

    def body(self, depth: int, carried: str) -> list[str]:
        """A loop body that keeps `carried` an f32[N, n] from one iteration to the next."""
        return [f"{carried} = tanh({carried} @ w + {self.matrix()})"]

    def program(self) -> str:
        lines = ["module Fuzzed(n: int = 3, seed: int = 1):", "    var w: f32[n, n] = glorot_uniform(seed=seed)",
                 "    var b: f32[n] = zeros()", ""]
        for index in range(self.rng.randint(1, 2)):
            self.defined = []
            body: list[str] = []
            for _ in range(self.rng.randint(1, 4)):
                body.extend(self.statements(0))
            result = self.rng.choice(["matrix", "scalar", "both"])
            returns = {"matrix": ("f32[N, n]", self.matrix()), "scalar": ("f32[]", self.scalar()),
                       "both": ("(m: f32[N, n], s: f32[])", f"{self.matrix()}, {self.scalar()}")}[result]
            lines.append(f"    fn method{index}(x: f32[N, n]) -> {returns[0]}:")
            lines.extend("        " + line for line in [*body, f"return {returns[1]}"])
            lines.append("")
        return "\n".join(lines)


def programs() -> st.SearchStrategy[str]:
    """A hypothesis strategy of grammar-shaped programs (hypothesis chooses the seeds)."""
    return st.randoms(use_true_random=False).map(lambda rng: ProgramGenerator(rng).program())


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


# --- mutation --------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+\.?\d*|\*\*|//|->|[-+*/%@=<>!]=?|.", re.S)
_JUNK = ["(", ")", "[", "]", ":", ",", "=", "\t", "\x00", "'", '"', "\\", "#", "é", "\ufeff", "module", "fn", "@"]


def mutations(source: str, rng: random.Random) -> str:
    """One to three random token- or line-level edits of `source`."""
    for _ in range(rng.randint(1, 3)):
        source = rng.choice([_token_edit, _line_edit])(source, rng)
    return source


def _token_edit(source: str, rng: random.Random) -> str:
    tokens = _TOKEN.findall(source)
    if not tokens:
        return source
    i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
    action = rng.choice(["delete", "duplicate", "swap", "insert"])
    if action == "delete":
        del tokens[i]
    elif action == "duplicate":
        tokens.insert(i, tokens[i])
    elif action == "swap":
        tokens[i], tokens[j] = tokens[j], tokens[i]
    else:
        tokens.insert(i, rng.choice(_JUNK))
    return "".join(tokens)


def _line_edit(source: str, rng: random.Random) -> str:
    lines = source.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.choice(["delete", "duplicate", "swap", "indent", "dedent"])
    if action == "delete":
        del lines[i]
    elif action == "duplicate":
        lines.insert(i, lines[i])
    elif action == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif action == "indent":
        lines[i] = rng.choice(["    ", "\t", "  "]) + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return "\n".join(lines)
