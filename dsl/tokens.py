"""The patterns of the grammar's words and numbers, for the tools that scan text without parsing it
(the formatter, the highlighters, the library's module index, syntax-error hints).

`grammar/tfm.lark` spells the same terminals (NAME, INT, FLOAT); `tests/syntax/test_tokens.py` holds
the two to each other, so a change to one fails until the other follows."""

from __future__ import annotations

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
INT = r"0|[1-9][0-9]*"
FLOAT = r"([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+"
