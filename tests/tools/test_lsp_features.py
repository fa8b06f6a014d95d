"""`tfm lsp` through a real client in a subprocess (issue 25, items 1-3): answers while the file has
errors, types as the instance has them, signature help, inlay hints (switchable), quick fixes for
the diagnostics whose fix is mechanical, and formatting as `tfm fmt` lays the text out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tfm.dsl.formatter import format_source

MODEL = """module Model(units: int = 4):
    var w: f32[3, units] = glorot_uniform(seed=1)
    sub dense = Dense(64, 128, seed=2)
    sub drop = Dropout(0.5)

    fn call(x: f32[N, 3]) -> f32[N, units]:
        hidden = relu(x @ w)
        return hidden

    fn project(x: f32[N, 64]) -> f32[N, 128]:
        return dense(x)
"""
# MODEL with a syntax error in one method and a misspelt op in another, and a module with a type
# error after it: the rest must still answer. (`tfm check` reports no semantic error of a module a
# syntax error touched: the line set aside could cause errors of its own.)
BROKEN = MODEL.replace("        return hidden\n", "        return hidden +\n").replace(
    "        return dense(x)\n", "        y = dense(x)\n        return reluu(y)\n") + """
module Other:
    fn f(a: f32[3]) -> f32[3]:
        return a + zeros([4])
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "tfm", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                             initialization_options={"inlayHints": True}))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str) -> lsp.TextDocumentIdentifier:
    path.write_text(text)
    uri = path.resolve().as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="tfm", version=1, text=text)))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return lsp.TextDocumentIdentifier(uri=uri)


def _position(text: str, needle: str, offset: int = 0) -> lsp.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


async def _hover(client: LanguageClient, doc, text: str, needle: str, offset: int = 0) -> str:
    answer = await client.text_document_hover_async(lsp.HoverParams(text_document=doc,
                                                                    position=_position(text, needle, offset)))
    return answer.contents.value if answer is not None else ""


@pytest.mark.asyncio
async def test_a_broken_file_still_answers_where_it_parses(client: LanguageClient, tmp_path):
    doc = await _open(client, tmp_path / "m.tfm", BROKEN)
    codes = sorted(d.code for d in client.diagnostics[doc.uri])
    assert codes == ["E001", "E041"]
    assert "`hidden`: `f32[N, units]`" in await _hover(client, doc, BROKEN, "hidden = relu")
    assert "`y`: `f32[N, 128]`" in await _hover(client, doc, BROKEN, "y = dense")
    assert "x: f32[N, 64] (method input)" in await _hover(client, doc, BROKEN, "x: f32[N, 64]")
    assert "`a`: `f32[3]`" in await _hover(client, doc, BROKEN, "a + zeros")
    definition = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=doc, position=_position(BROKEN, "x @ w", 4)))
    assert definition.range.start.line == 1  # var w
    symbol, other = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=doc))
    assert [c.name for c in symbol.children] == ["units", "w", "dense", "drop", "call", "project"]
    assert other.name == "Other"
    headless = BROKEN.replace("module Other:", "module Other")  # a header set aside: named from its line
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=doc.uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=headless)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=doc))
    assert [s.name for s in symbols] == ["Model", "Other"] and [c.name for c in symbols[1].children] == ["f"]
    completions = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=doc, position=_position(BROKEN, "reluu")))
    assert {"relu", "dense", "drop", "project"} <= {item.label for item in completions.items}


@pytest.mark.asyncio
async def test_hover_shows_types_as_the_instance_has_them(client: LanguageClient, tmp_path):
    doc = await _open(client, tmp_path / "m.tfm", MODEL)
    call = await _hover(client, doc, MODEL, "dense(x)")
    assert "fn call(x: f32[N, ..., 64]) -> f32[N, ..., 128]" in call  # in_dim=64, out_dim=128 applied
    assert 'Dense(in_dim=64, out_dim=128, activation="linear", seed=2, kernel_regularizer=""' in call
    assert "fn call(x: f32[N, ..., in_dim]) -> f32[N, ..., out_dim]" in call  # and as the library declares it
    assert "(in this instance: `f32[N, 4]`)" in await _hover(client, doc, MODEL, "hidden = relu")
    assert "in this instance: `f32[3, 4]`" in await _hover(client, doc, MODEL, "w: f32")
    assert 'Dropout(rate=0.5, seed=-1)' in await _hover(client, doc, MODEL, "drop = ")


@pytest.mark.asyncio
async def test_signature_help_and_member_completion_while_a_call_is_typed(client: LanguageClient, tmp_path):
    typing = MODEL.replace("        return hidden\n", "        s = reduce_sum(hidden, axis=\n        return hidden\n")
    doc = await _open(client, tmp_path / "m.tfm", typing)
    help_ = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=doc, position=_position(typing, "axis=", 5)))
    [signature] = help_.signatures
    assert signature.label.startswith("reduce_sum(input_tensor, axis")
    assert signature.parameters[help_.active_parameter].label.startswith("axis")
    sub = typing.replace("return dense(x)", "return dense(")
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=doc.uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=sub)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    help_ = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=doc, position=_position(sub, "dense(", 6)))
    assert help_.signatures[0].label == "fn call(x: f32[N, ..., 64]) -> f32[N, ..., 128]" and help_.active_parameter == 0

    dotted = typing.replace("return dense(x)", "return dense.").replace("return hidden\n", "return w.\n")
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=doc.uri, version=3),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=dotted)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    members = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=doc, position=_position(dotted, "dense.", 6)))
    assert {(item.label, item.detail) for item in members.items} == {
        ("call", "fn call(x: f32[N, ..., 64]) -> f32[N, ..., 128]"),
        ("activity_loss", "fn activity_loss(y: f32[N, ..., 128]) -> f32[]"),
        ("regularization_losses", "fn regularization_losses() -> f32[]")}  # generated: Dense has regularizers
    updates = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=doc, position=_position(dotted, "w.\n", 2)))
    assert {item.label for item in updates.items} == {"assign", "assign_add", "assign_sub", "read_value"}


@pytest.mark.asyncio
async def test_inlay_hints_and_switching_them_off(client: LanguageClient, tmp_path):
    doc = await _open(client, tmp_path / "m.tfm", MODEL)
    whole = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=20, character=0))
    [hint] = await client.text_document_inlay_hint_async(lsp.InlayHintParams(text_document=doc, range=whole))
    assert hint.label == ": f32[N, 4]" and hint.position == _position(MODEL, "hidden = relu", 6)
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"tfm": {"inlayHints": False}}))
    assert len(await client.text_document_inlay_hint_async(lsp.InlayHintParams(text_document=doc, range=whole))) == 0


def _apply(text: str, edits: list[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    offsets = [sum(len(row) + 1 for row in lines[:i]) for i in range(len(lines))]
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = offsets[edit.range.start.line] + edit.range.start.character
        end = offsets[edit.range.end.line] + edit.range.end.character
        text = text[:start] + edit.new_text + text[end:]
    return text


@pytest.mark.asyncio
@pytest.mark.parametrize("broken, title, fixed", [
    (MODEL.replace("relu(x @ w)", "reluu(x @ w)"), "change `reluu` to `relu`", MODEL),
    (MODEL.replace("return hidden\n", "return hiden\n"), "change `hiden` to `hidden`", MODEL),
    (MODEL.replace("return dense(x)", "return dense(x) + reduce_sum(drop(x), axs=1, keepdims=True)"),
     "pass `training=False`",
     MODEL.replace("return dense(x)", "return dense(x) + reduce_sum(drop(x, training=False), axs=1, keepdims=True)")),
    (MODEL.replace("-> f32[N, units]", "-> f32[N]"), "declare `output_0` as f32[N, units]", MODEL),
    (MODEL.replace("-> f32[N, units]", "-> i32[N, units]"), "cast to i32",
     MODEL.replace("-> f32[N, units]", "-> i32[N, units]").replace("return hidden\n", "return cast(hidden, i32)\n")),
])
async def test_quick_fixes_make_the_edit_the_hint_describes(client: LanguageClient, tmp_path, broken, title, fixed):
    doc = await _open(client, tmp_path / "m.tfm", broken)
    diagnostics = list(client.diagnostics[doc.uri])
    everywhere = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=30, character=0))
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=doc, range=everywhere, context=lsp.CodeActionContext(diagnostics=diagnostics)))
    chosen = [a for a in actions if a.title == title]
    assert chosen, [a.title for a in actions]
    assert _apply(broken, chosen[0].edit.changes[doc.uri]) == fixed


@pytest.mark.asyncio
async def test_formatting_is_tfm_fmt(client: LanguageClient, tmp_path):
    messy = MODEL.replace("relu(x @ w)", "relu( x@w )").replace("glorot_uniform(seed=1)", "glorot_uniform( seed = 1 )")
    doc = await _open(client, tmp_path / "m.tfm", messy)
    options = lsp.FormattingOptions(tab_size=4, insert_spaces=True)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(text_document=doc, options=options))
    assert _apply(messy, edits) == format_source(messy) == MODEL
    clean = await _open(client, tmp_path / "clean.tfm", MODEL)
    assert len(await client.text_document_formatting_async(lsp.DocumentFormattingParams(text_document=clean,
                                                                                       options=options))) == 0
