"""The token patterns the text-scanning tools share (`dsl/tokens.py`) are the grammar's own terminals."""

from __future__ import annotations

import re

import pytest

from support import ROOT
from tfm.dsl import tokens


@pytest.mark.parametrize("terminal", ["NAME", "INT", "FLOAT"])
def test_token_pattern_is_the_grammars_terminal(terminal):
    grammar = (ROOT / "grammar" / "tfm.lark").read_text(encoding="utf-8")
    spelled = re.search(rf"^{terminal}: /(.*)/$", grammar, re.M)
    assert spelled is not None, terminal
    assert spelled.group(1) == getattr(tokens, terminal)
