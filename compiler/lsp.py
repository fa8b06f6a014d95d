"""`tfm lsp`: the Language Server Protocol over stdio (pygls), for any editor.

Diagnostics as you type (the codes, spans and hints of `tfm check`; warnings too), hover with the
inferred dtype and shape of an expression or the signature of an op, method or member, go to
definition (members, modules across imports, locals, inputs), completion of ops with their
parameters, keywords, members and modules, the document outline, and rename of a local or member.
The answers come from `tfm.dsl.queries`; this module only converts positions and types.
No TensorFlow import.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from tfm import dsl
from tfm.dsl import queries
from tfm.dsl.diagnostics import Diagnostic
from tfm.highlight import grammar_keywords

_SYMBOL_KINDS = {"module": lsp.SymbolKind.Class, "variable": lsp.SymbolKind.Field, "state": lsp.SymbolKind.Field,
                 "submodule": lsp.SymbolKind.Object, "method": lsp.SymbolKind.Method,
                 "parameter": lsp.SymbolKind.TypeParameter}
_COMPLETION_KINDS = {"function": lsp.CompletionItemKind.Function, "keyword": lsp.CompletionItemKind.Keyword,
                     "module": lsp.CompletionItemKind.Class, "variable": lsp.CompletionItemKind.Field,
                     "field": lsp.CompletionItemKind.Field, "method": lsp.CompletionItemKind.Method}


class TfmLanguageServer(LanguageServer):
    """Keeps, per open document, its last good analysis: hover and completion keep working while
    the text is briefly invalid during typing."""

    def __init__(self):
        from tfm.cli_args import version

        super().__init__("tfm", version())
        self.analyses: dict[str, dsl.Analysis] = {}


server = TfmLanguageServer()


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _range(span) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=max(span.line - 1, 0), character=max(span.column - 1, 0)),
                     end=lsp.Position(line=max(span.end_line - 1, 0), character=max(span.end_column - 1, 0)))


def _to_lsp(diagnostic: Diagnostic, uri: str) -> lsp.Diagnostic:
    severity = lsp.DiagnosticSeverity.Error if diagnostic.severity == "error" else lsp.DiagnosticSeverity.Warning
    related = None
    if diagnostic.hint:
        related = [lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=uri, range=_range(diagnostic.span)), message=f"hint: {diagnostic.hint}")]
    return lsp.Diagnostic(range=_range(diagnostic.span), message=diagnostic.message, severity=severity,
                          code=diagnostic.code, source="tfm", related_information=related)


def _analyse(ls: TfmLanguageServer, uri: str) -> None:
    document = ls.workspace.get_text_document(uri)
    path = _path(uri)
    try:
        analysis = dsl.analyze(dsl.parser.normalize_text(document.source), path)
        found = list(analysis.warnings)
        ls.analyses[uri] = analysis
    except dsl.TfmError as exc:
        found = list(exc.diagnostics)
    except Exception as exc:  # a bug in tfm must not take the editor's server down
        ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"tfm: {exc!r}"))
        found = []
    mine = [d for d in found if d.span.file == path]
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
        uri=uri, diagnostics=[_to_lsp(d, uri) for d in mine], version=document.version))


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: TfmLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    _analyse(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: TfmLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    _analyse(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: TfmLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    _analyse(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: TfmLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)


def _at(ls: TfmLanguageServer, params) -> tuple[dsl.Analysis | None, str, int, int]:
    uri = params.text_document.uri
    return ls.analyses.get(uri), _path(uri), params.position.line + 1, params.position.character + 1


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: TfmLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
    analysis, path, line, column = _at(ls, params)
    text = queries.hover(analysis, path, line, column) if analysis is not None else None
    if text is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: TfmLanguageServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    analysis, path, line, column = _at(ls, params)
    span = queries.definition(analysis, path, line, column) if analysis is not None else None
    if span is None:
        return None
    uri = params.text_document.uri if span.file == path else Path(span.file).resolve().as_uri()
    return lsp.Location(uri=uri, range=_range(span))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
def completion(ls: TfmLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    analysis = ls.analyses.get(params.text_document.uri)
    items = [lsp.CompletionItem(label=label, kind=_COMPLETION_KINDS.get(kind), detail=detail)
             for label, kind, detail in queries.completions(analysis, grammar_keywords())]
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: TfmLanguageServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    try:
        program = dsl.parse(document.source, _path(params.text_document.uri))
    except dsl.TfmError:
        analysis = ls.analyses.get(params.text_document.uri)
        if analysis is None:
            return []
        program = analysis.program
    return [_symbol(s) for s in queries.outline(program)]


def _symbol(symbol: queries.Symbol) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(name=symbol.name, kind=_SYMBOL_KINDS[symbol.kind], range=_range(symbol.span),
                              selection_range=_range(symbol.span), children=[_symbol(c) for c in symbol.children])


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def rename(ls: TfmLanguageServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    analysis, path, line, column = _at(ls, params)
    if analysis is None or not params.new_name.isidentifier():
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    found = queries.references(analysis, path, line, column, dsl.parser.normalize_text(document.source))
    if found is None:
        return None
    _, spans = found
    edits = [lsp.TextEdit(range=_range(span), new_text=params.new_name) for span in spans if span.file == path]
    return lsp.WorkspaceEdit(changes={params.text_document.uri: edits})


def main() -> int:
    server.start_io()
    return 0
