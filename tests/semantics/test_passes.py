"""Every pass over method bodies dispatches through dsl.visitor.NodeVisitor and handles every node of the
families it walks: statements, expressions and resolved call kinds."""

from __future__ import annotations

import pytest

import tfm.generate.codegen  # noqa: F401 - defines the generator's passes
from tfm.dsl import body_checker  # noqa: F401 - defines the checker's pass
from tfm.dsl.inference import expressions, flow  # inference's passes: statements, then expressions and calls
from tfm.dsl.visitor import CALL_KINDS, EXPRESSIONS, STATEMENTS, NodeVisitor


def _passes() -> list[type]:
    found, pending = [], list(NodeVisitor.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_the_passes_are_the_expected_ones():
    names = {cls.__name__ for cls in _passes()}
    assert {"BodyChecker", "MethodInference", "ExpressionTyping", "_ExprEmitter", "_BodyEmitter"} <= names


@pytest.mark.parametrize("cls", _passes(), ids=lambda c: c.__name__)
def test_every_pass_handles_every_node_of_its_families(cls):
    for prefix, family in cls.FAMILIES.items():
        assert family in (STATEMENTS, EXPRESSIONS, CALL_KINDS)
        for key in family:
            name = prefix + (key if isinstance(key, str) else key.__name__)
            assert callable(getattr(cls, name)), name


def test_every_statement_and_expression_is_walked_by_checker_inference_and_generator():
    walked = {family for cls in _passes() for family in cls.FAMILIES.values()}
    assert {STATEMENTS, EXPRESSIONS, CALL_KINDS} <= walked
    inference = {**flow.MethodInference.FAMILIES, **expressions.ExpressionTyping.FAMILIES}
    for kind in ("stmt_", "expr_"):
        assert kind in body_checker.BodyChecker.FAMILIES and kind in inference
    assert "call_" in inference


def test_a_missing_handler_fails_when_the_class_is_defined():
    with pytest.raises(TypeError, match="has no handler stmt_"):
        class Incomplete(NodeVisitor):  # noqa: F841
            FAMILIES = {"stmt_": STATEMENTS}

            def stmt_Assign(self, stmt):
                pass
    with pytest.raises(TypeError, match="whole family"):
        class Partial(NodeVisitor):  # noqa: F841
            FAMILIES = {"stmt_": STATEMENTS[:2]}
