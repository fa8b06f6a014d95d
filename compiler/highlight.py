"""Highlighting for `.tfm`: a Pygments lexer (docs, `rich`, anything that uses Pygments) and a TextMate
grammar (VS Code, GitHub's linguist, most editors), both built from the same word lists.

The keywords are read from the Lark grammar itself and the op, dtype, initializer and library names
from the registries, so neither highlighter can drift from the language:

    python -m tfm.highlight --textmate editors/tfm.tmLanguage.json   # regenerate the TextMate grammar
"""

from __future__ import annotations

import functools
import json
import re
import sys

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from tfm.dsl.tokens import FLOAT, NAME

_CONSTANTS = ("True", "False", "None")


@functools.cache
def grammar_keywords() -> tuple[str, ...]:
    """Every word the Lark grammar spells as a literal (`"module"`, `"fn"`, ...), constants excepted."""
    from tfm.grammar import GRAMMAR_PATH

    found = set(re.findall(r'"([A-Za-z_]+)"', GRAMMAR_PATH.read_text(encoding="utf-8")))
    return tuple(sorted(found - set(_CONSTANTS)))


@functools.cache
def builtin_names() -> dict[str, tuple[str, ...]]:
    """Names the language gives meaning to beyond keywords: ops, dtypes, initializers, library modules."""
    from tfm.dsl.library import OPTIMIZERS, SCHEDULES, library_index
    from tfm.dsl.ops import DTYPES, INITIALIZERS, OPS, STATIC_TYPES

    return {"ops": tuple(sorted(set(OPS) | set(INITIALIZERS))),
            "types": tuple(sorted(set(DTYPES) | set(STATIC_TYPES))),
            "modules": tuple(sorted(set(library_index()) | set(OPTIMIZERS) | set(SCHEDULES)))}


_NUMBER = FLOAT


class TfmLexer(RegexLexer):
    """Pygments lexer for tfm, the declarative language for TensorFlow modules."""

    name = "tfm"
    aliases = ["tfm"]
    filenames = ["*.tfm"]
    mimetypes = ["text/x-tfm"]

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"\\\n", Text),
            (r"(module)(\s+)(" + NAME + r")", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(fn)(\s+)(" + NAME + r")", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            ("@" + NAME, Name.Decorator),
            (words(_CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(grammar_keywords(), suffix=r"\b"), Keyword),
            (words(builtin_names()["types"], suffix=r"\b"), Keyword.Type),
            (words(builtin_names()["modules"], suffix=r"\b"), Name.Class),
            (words(builtin_names()["ops"], suffix=r"\b(?=\s*\()"), Name.Builtin),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            (r"'([^'\\\n]|\\.)*'", String.Single),
            (_NUMBER, Number.Float),
            (r"0|[1-9][0-9]*", Number.Integer),
            (r"\*\*|//|->|[-+*/%@<>=!]=?|\.\.\.|\|", Operator),
            (r"[()\[\],:.?]", Punctuation),
            (NAME, Name),
            (r".", Text),
        ],
    }


def _alternation(names: tuple[str, ...]) -> str:
    return r"\b(" + "|".join(re.escape(w) for w in sorted(names, key=len, reverse=True)) + r")\b"


def textmate_grammar() -> dict:
    """The TextMate grammar (JSON) for `.tfm`, scopes named as TextMate's conventions ask."""
    names = builtin_names()
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "tfm",
        "scopeName": "source.tfm",
        "fileTypes": ["tfm"],
        "patterns": [
            {"name": "comment.line.number-sign.tfm", "match": "#.*$"},
            {"name": "string.quoted.double.tfm", "match": r'"([^"\\]|\\.)*"'},
            {"name": "string.quoted.single.tfm", "match": r"'([^'\\]|\\.)*'"},
            {"match": r"\b(module)\s+(" + NAME + r")",
             "captures": {"1": {"name": "storage.type.module.tfm"}, "2": {"name": "entity.name.type.module.tfm"}}},
            {"match": r"\b(fn)\s+(" + NAME + r")",
             "captures": {"1": {"name": "storage.type.function.tfm"}, "2": {"name": "entity.name.function.tfm"}}},
            {"name": "entity.name.function.decorator.tfm", "match": "@" + NAME},
            {"name": "constant.language.tfm", "match": _alternation(_CONSTANTS)},
            {"name": "keyword.control.tfm", "match": _alternation(grammar_keywords())},
            {"name": "storage.type.dtype.tfm", "match": _alternation(names["types"])},
            {"name": "support.class.tfm", "match": _alternation(names["modules"])},
            {"name": "support.function.tfm", "match": _alternation(names["ops"]) + r"(?=\s*\()"},
            {"name": "constant.numeric.float.tfm", "match": r"\b(" + _NUMBER + r")"},
            {"name": "constant.numeric.integer.tfm", "match": r"\b(0|[1-9][0-9]*)\b"},
            {"name": "keyword.operator.tfm", "match": r"\*\*|//|->|[-+*/%@<>=!]=?|\|"},
        ],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tfm.highlight", description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--textmate", metavar="OUT.json", required=True, help="write the TextMate grammar here")
    args = parser.parse_args(argv)
    from tfm.files import write_atomic

    write_atomic(args.textmate, json.dumps(textmate_grammar(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
