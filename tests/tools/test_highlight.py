"""The Pygments lexer and the TextMate grammar against the Lark grammar and the registries: every
keyword highlighted as a keyword, every example lexed without an error token and losslessly, and
the committed TextMate file equal to what the generator makes (so neither can drift)."""

from __future__ import annotations

import json
import re

import pytest
from pygments.token import Error, Keyword, Name

from tfm.highlight import TfmLexer, builtin_names, grammar_keywords, textmate_grammar
from support import EXAMPLES, ROOT, doc_blocks


def test_grammar_keywords_are_read_from_the_lark_grammar():
    assert {"module", "fn", "var", "state", "sub", "if", "for", "while", "return", "import", "assert"} <= set(
        grammar_keywords())


@pytest.mark.parametrize("word", grammar_keywords())
def test_every_keyword_is_a_keyword_to_both_highlighters(word):
    [(token, value), *_] = list(TfmLexer().get_tokens(word + " "))
    assert token in Keyword and value == word
    keyword_rule = next(p for p in textmate_grammar()["patterns"] if p.get("name") == "keyword.control.tfm")
    assert re.fullmatch(keyword_rule["match"], word)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.tfm")), ids=lambda p: p.name)
def test_examples_lex_losslessly_without_errors(example):
    source = example.read_text()
    tokens = list(TfmLexer().get_tokens(source))
    assert "".join(value for _, value in tokens) == source
    assert not [value for token, value in tokens if token in Error]


def test_ops_and_library_modules_are_named_builtins():
    tokens = dict((v, t) for t, v in TfmLexer().get_tokens("y = reduce_sum(x)\nsub d = Conv2D(1, 2, 3)\n"))
    assert tokens["reduce_sum"] in Name.Builtin and tokens["Conv2D"] in Name.Class
    assert "conv2d" in builtin_names()["ops"] and "LSTM" in builtin_names()["modules"]


def test_committed_textmate_grammar_is_the_generated_one():
    committed = json.loads((ROOT / "editors" / "tfm.tmLanguage.json").read_text())
    assert committed == textmate_grammar(), "run: python -m tfm.derived"
    for pattern in committed["patterns"]:
        re.compile(pattern["match"])  # Oniguruma reads these too: plain syntax only


def test_docs_mark_their_tfm_blocks_and_they_highlight():
    blocks = [text for _, text in doc_blocks()]
    assert len(blocks) >= 8
    for block in blocks:
        assert not [v for t, v in TfmLexer().get_tokens(block) if t in Error], block
