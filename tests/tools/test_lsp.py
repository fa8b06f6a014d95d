"""`tfm lsp` driven by a real LSP client (pytest-lsp) over stdio in a subprocess: diagnostics as the
text changes, hover with inferred types, go to definition (also across an import), completion,
the document outline and rename."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

MODEL = """module Model(units: int = 4):
    var w: f32[3, units] = glorot_uniform(seed=1)
    sub dense = Dense(units, 2, seed=2)

    fn call(x: f32[N, 3]) -> f32[N, 2]:
        h = relu(x @ w)
        return dense(h)
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "tfm", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str) -> str:
    path.write_text(text)
    uri = path.resolve().as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="tfm", version=1, text=text)))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def _position(text: str, needle: str, offset: int = 0) -> lsp.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


@pytest.mark.asyncio
async def test_diagnostics_follow_the_text(client: LanguageClient, tmp_path):
    uri = await _open(client, tmp_path / "m.tfm", MODEL)
    assert list(client.diagnostics[uri]) == []
    broken = MODEL.replace("relu(x @ w)", "reluu(x @ w)")
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=broken)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [diagnostic] = client.diagnostics[uri]
    assert diagnostic.code == "E012" and diagnostic.severity == lsp.DiagnosticSeverity.Error
    assert diagnostic.range.start == _position(broken, "reluu")
    assert diagnostic.related_information[0].message == "hint: did you mean `relu`?"


@pytest.mark.asyncio
async def test_hover_shows_inferred_types_and_signatures(client: LanguageClient, tmp_path):
    uri = await _open(client, tmp_path / "m.tfm", MODEL)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    local = await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=_position(MODEL, "h =")))
    assert "`h`: `f32[N, units]`" in local.contents.value
    op = await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=_position(MODEL, "relu")))
    assert "relu(features)" in op.contents.value and "tf.nn.relu" in op.contents.value
    sub = await client.text_document_hover_async(lsp.HoverParams(text_document=doc,
                                                                 position=_position(MODEL, "dense(h)")))
    assert "fn call(x: f32[N, ..., in_dim]) -> f32[N, ..., out_dim]" in sub.contents.value


@pytest.mark.asyncio
async def test_definition_of_members_locals_and_imported_modules(client: LanguageClient, tmp_path):
    (tmp_path / "blocks.tfm").write_text("module Block:\n    fn f(x: f32[]) -> f32[]:\n        return x\n")
    text = "import blocks\n\n" + MODEL.replace("    sub dense", "    sub block = Block()\n    sub dense")
    uri = await _open(client, tmp_path / "m.tfm", text)
    doc = lsp.TextDocumentIdentifier(uri=uri)

    async def target(needle, offset=0):
        return await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc, position=_position(text, needle, offset)))

    variable = await target("x @ w", 4)
    assert variable.uri == uri and variable.range.start.line == text[:text.index("var w")].count("\n")
    local = await target("dense(h)", 6)
    assert local.range.start.line == text[:text.index("h = relu")].count("\n")
    imported = await target("Block()")
    assert imported.uri == (tmp_path / "blocks.tfm").resolve().as_uri() and imported.range.start.line == 0


@pytest.mark.asyncio
async def test_completion_outline_and_rename(client: LanguageClient, tmp_path):
    uri = await _open(client, tmp_path / "m.tfm", MODEL)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    completions = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=doc, position=_position(MODEL, "relu")))
    labels = {item.label: item for item in completions.items}
    assert {"conv2d", "reduce_sum", "module", "while", "w", "dense", "call"} <= set(labels)
    assert labels["conv2d"].detail.startswith("conv2d(input, filters")

    [symbol] = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=doc))
    assert symbol.name == "Model" and [c.name for c in symbol.children] == ["units", "w", "dense", "call"]
    lines = MODEL.split("\n")
    for item in (symbol, *symbol.children):  # the name is selected, inside the declaration's range
        selected = item.selection_range
        assert lines[selected.start.line][selected.start.character:selected.end.character] == item.name
        assert (item.range.start.line, item.range.start.character) <= (selected.start.line, selected.start.character)

    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=doc, position=_position(MODEL, "h = "), new_name="hidden"))
    changes = edit.changes[uri]
    assert len(changes) == 2 and {c.new_text for c in changes} == {"hidden"}
    renamed = sorted((c.range.start.line, c.range.start.character, c.range.end.character) for c in changes)
    assert [lines[line][start:end] for line, start, end in renamed] == ["h", "h"]
    member = await client.text_document_rename_async(
        lsp.RenameParams(text_document=doc, position=_position(MODEL, "x @ w", 4), new_name="kernel"))
    spans = sorted((c.range.start.line, c.range.start.character) for c in member.changes[uri])
    assert spans == [(1, 8), (5, 21)]  # the declaration and the use


@pytest.mark.asyncio
@pytest.mark.parametrize("new_name", ["if", "module", "dense", "units", "_h", "tf", "a b"])
async def test_rename_refuses_names_the_language_refuses(client: LanguageClient, tmp_path, new_name):
    uri = await _open(client, tmp_path / "m.tfm", MODEL)
    with pytest.raises(Exception, match="renaming to"):
        await client.text_document_rename_async(lsp.RenameParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=_position(MODEL, "h = "), new_name=new_name))
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=_position(MODEL, "h = ")))
    assert "`h`" in hover.contents.value  # the server goes on
