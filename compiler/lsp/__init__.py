"""`tfm lsp`: the Language Server Protocol over stdio (pygls), for any editor.

Diagnostics as you type (the codes, spans and hints of `tfm check`; warnings too), hover with the
inferred dtype and shape of an expression (and as this instance has it, constructor parameters and
defaults applied) or the signature of an op, method or submodule call, go to definition (members,
modules across imports, locals, inputs), completion of ops with their parameters, keywords, members
and modules, signature help while a call is typed, inlay hints with each local's inferred type
(switchable), code actions for the diagnostics whose fix is mechanical, formatting (`tfm fmt`), the
document outline, and rename of a local or member. All of it works while the file has errors, in
every part the parser can recover (dsl/tolerant.py). The answers come from `tfm.dsl.queries` and
`tfm.dsl.fixes`; this module only converts positions and types. No TensorFlow import.

Documents are analysed in a background thread (compiler/lsp/analyser.py): requests are answered at
once from the last analysis, so a large document never blocks them. The framing is read by
compiler/lsp/framing.py. A document over MAX_DOCUMENT_CHARS is not analysed.
"""

from __future__ import annotations

import asyncio
import keyword
import sys
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from tfm import dsl
from tfm.dsl import fixes, queries
from tfm.dsl.diagnostics import Diagnostic
from tfm.dsl.formatter import FormatError, format_source
from tfm.dsl.imports import search_path_from_env
from tfm.dsl.incremental import Incremental
from tfm.dsl.names import name_problem
from tfm.dsl.tolerant import PLACEHOLDERS, Tolerant
from tfm.highlight import grammar_keywords

from .analyser import Analyser, Result
from .framing import serve

_SYMBOL_KINDS = {"module": lsp.SymbolKind.Class, "variable": lsp.SymbolKind.Field, "state": lsp.SymbolKind.Field,
                 "submodule": lsp.SymbolKind.Object, "method": lsp.SymbolKind.Method,
                 "parameter": lsp.SymbolKind.TypeParameter}
_COMPLETION_KINDS = {"function": lsp.CompletionItemKind.Function, "keyword": lsp.CompletionItemKind.Keyword,
                     "module": lsp.CompletionItemKind.Class, "variable": lsp.CompletionItemKind.Field,
                     "field": lsp.CompletionItemKind.Field, "method": lsp.CompletionItemKind.Method}

# About 30,000 lines. Analysis runs beside the requests, so size costs only how soon diagnostics come.
MAX_DOCUMENT_CHARS = 2**20
FIRST_ANALYSIS_WAIT = 0.25  # seconds a request on a just-opened document waits for its first analysis
EDIT_WAIT = 10.0  # seconds a rename or a code action waits for the analysis of the newest text (to edit it)


class TfmLanguageServer(LanguageServer):
    """Keeps, per open document, its last analysis (computed off the request path) and the last one
    that had any analysable part: hover and completion keep working while the text is invalid."""

    def __init__(self):
        from tfm.version import tfm_version

        super().__init__("tfm", tfm_version())
        self.loop: asyncio.AbstractEventLoop | None = None
        self.analyser = Analyser(_analyse_text, self._analysed)
        self.last_good: dict[str, dsl.Analysis] = {}
        self.inlay_hints = True  # initializationOptions {"inlayHints": false}, or settings {"tfm": {"inlayHints": ...}}

    def _analysed(self, uri: str, result: Result) -> None:
        """In the analyser's thread: publish on the server's loop (one writer for stdout)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.publish, uri, result)

    def publish(self, uri: str, result: Result) -> None:
        if result.tolerant.analysis is not None:
            self.last_good[uri] = result.tolerant.analysis
        path = _path(uri)
        mine = [d for d in result.tolerant.diagnostics if d.span.file == path]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, diagnostics=[_to_lsp(d, uri) for d in mine], version=result.version))


# Per open document, what its last analysis can lend the next one (used in the analyser's thread only).
_incremental: dict[str, Incremental] = {}


def _analyse_text(uri: str, path: str, text: str) -> Tolerant:
    """The analysis of a document's text, reusing its unchanged modules' (dsl/incremental.py)."""
    analyser = _incremental.get(uri)
    if analyser is None or analyser.file != path:
        analyser = _incremental[uri] = Incremental(path, search_path_from_env())
    try:
        return analyser.analyse(text)
    except Exception as exc:  # a bug in tfm must not take the editor's server down
        _incremental.pop(uri, None)
        print(f"tfm lsp: analysing {path}: {exc!r}", file=sys.stderr)
        return Tolerant((), None, False)


server = TfmLanguageServer()
_T = TypeVar("_T")


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


def _submit(ls: TfmLanguageServer, uri: str) -> None:
    document = ls.workspace.get_text_document(uri)
    if len(document.source) <= MAX_DOCUMENT_CHARS:
        ls.analyser.submit(uri, document.version, _path(uri), dsl.parser.normalize_text(document.source))
        return
    ls.analyser.forget(uri)
    ls.last_good.pop(uri, None)
    refused = dsl.Diagnostic(code="E056", severity="error", span=dsl.nodes.Span(
        file=_path(uri), line=1, column=1, end_line=1, end_column=1),
        message=f"a document of {len(document.source):,} characters is more than the editor limit of "
                f"{MAX_DOCUMENT_CHARS:,}", hint="check it with `tfm check` on the command line")
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
        uri=uri, diagnostics=[_to_lsp(refused, uri)], version=document.version))


@server.feature(lsp.INITIALIZE)
def initialize(ls: TfmLanguageServer, params: lsp.InitializeParams) -> None:
    _configure(ls, params.initialization_options)


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: TfmLanguageServer, params: lsp.DidChangeConfigurationParams) -> None:
    _configure(ls, params.settings)


def _configure(ls: TfmLanguageServer, settings: object) -> None:
    """`{"inlayHints": false}`, bare (initializationOptions) or under `tfm` (an editor's settings)."""
    if isinstance(settings, dict):
        settings = settings.get("tfm", settings)
    if isinstance(settings, dict) and isinstance(settings.get("inlayHints"), bool):
        ls.inlay_hints = settings["inlayHints"]


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: TfmLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    _submit(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: TfmLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    _submit(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: TfmLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    _submit(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: TfmLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyser.forget(params.text_document.uri)
    _incremental.pop(params.text_document.uri, None)
    ls.last_good.pop(params.text_document.uri, None)


def _analysis(ls: TfmLanguageServer, uri: str) -> dsl.Analysis | None:
    """The last analysis of `uri` that has one: of the text of a moment ago while a newer one is analysed."""
    result = ls.analyser.result(uri, wait=FIRST_ANALYSIS_WAIT)
    if result is not None and result.tolerant.analysis is not None:
        return result.tolerant.analysis
    return ls.last_good.get(uri)


def _at(ls: TfmLanguageServer, params) -> tuple[dsl.Analysis | None, str, int, int]:
    uri = params.text_document.uri
    return _analysis(ls, uri), _path(uri), params.position.line + 1, params.position.character + 1


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
    """After `name.`, what may follow that name (read from the current text); elsewhere every op,
    keyword, member and module."""
    uri = params.text_document.uri
    analysis = _analysis(ls, uri)
    text = dsl.parser.normalize_text(ls.workspace.get_text_document(uri).source)
    found = queries.member_completions(analysis, _path(uri), text, params.position.line + 1,
                                       params.position.character + 1)
    if found is None:
        found = queries.completions(analysis, grammar_keywords())
    items = [lsp.CompletionItem(label=label, kind=_COMPLETION_KINDS.get(kind), detail=detail)
             for label, kind, detail in found if label not in PLACEHOLDERS]
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","],
                                                                            retrigger_characters=["="]))
def signature_help(ls: TfmLanguageServer, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    """From the document's current text (the call being typed does not parse yet) and the last analysis."""
    uri = params.text_document.uri
    text = dsl.parser.normalize_text(ls.workspace.get_text_document(uri).source)
    found = queries.signature_help(_analysis(ls, uri), _path(uri), text,
                                   params.position.line + 1, params.position.character + 1)
    if found is None:
        return None
    parameters = [lsp.ParameterInformation(label=p) for p in found.parameters]
    signature = lsp.SignatureInformation(label=found.label, parameters=parameters, documentation=found.documentation,
                                         active_parameter=found.active)
    return lsp.SignatureHelp(signatures=[signature], active_signature=0, active_parameter=found.active)


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hints(ls: TfmLanguageServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    analysis = _analysis(ls, params.text_document.uri)
    if not ls.inlay_hints or analysis is None:
        return []
    found = queries.inlay_hints(analysis, _path(params.text_document.uri),
                                params.range.start.line + 1, params.range.end.line + 1)
    return [lsp.InlayHint(position=lsp.Position(line=line - 1, character=column - 1), label=label,
                          kind=lsp.InlayHintKind.Type, padding_left=False) for line, column, label in found]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
async def code_actions(ls: TfmLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """A quick fix for each diagnostic in the range whose fix is mechanical. The fixes are computed on
    the analysed text, so they wait for the analysis of the newest one."""
    uri = params.text_document.uri
    result = await _off_the_loop(ls.analyser.settled, uri, EDIT_WAIT)
    if result is None:
        return []
    first, last = params.range.start.line + 1, params.range.end.line + 1
    actions = []
    for diagnostic in result.tolerant.diagnostics:
        if diagnostic.span.file != _path(uri) or not (first <= diagnostic.span.line <= last
                                                       or diagnostic.span.line <= first <= diagnostic.span.end_line):
            continue
        for fix in fixes.fixes(diagnostic, result.text, result.tolerant.analysis):
            edits = [lsp.TextEdit(range=_edit_range(e), new_text=e.text) for e in fix.edits]
            actions.append(lsp.CodeAction(title=fix.title, kind=lsp.CodeActionKind.QuickFix,
                                          diagnostics=[_to_lsp(diagnostic, uri)], is_preferred=fix.preferred,
                                          edit=lsp.WorkspaceEdit(changes={uri: edits})))
    return actions


def _edit_range(edit: fixes.Edit) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=edit.line - 1, character=edit.column - 1),
                     end=lsp.Position(line=edit.end_line - 1, character=edit.end_column - 1))


async def _off_the_loop(function: Callable[..., _T], *args) -> _T:
    """`function(*args)` in a worker thread: what may take long (waiting for an analysis, formatting or
    checking a large text) never holds up the other requests, which the loop goes on answering."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: TfmLanguageServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    """`tfm fmt`'s layout as one edit of the whole document; none while the text does not parse."""
    uri = params.text_document.uri
    text = dsl.parser.normalize_text(ls.workspace.get_text_document(uri).source)
    try:
        formatted = await _off_the_loop(format_source, text, _path(uri))
    except (dsl.TfmError, FormatError):
        return None
    if formatted == text:
        return []
    lines = text.split("\n")
    whole = lsp.Range(start=lsp.Position(line=0, character=0),
                      end=lsp.Position(line=len(lines) - 1, character=len(lines[-1])))
    return [lsp.TextEdit(range=whole, new_text=formatted)]


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: TfmLanguageServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    uri = params.text_document.uri
    result = ls.analyser.result(uri, wait=FIRST_ANALYSIS_WAIT)
    if result is not None and result.tolerant.analysis is not None:
        program, text = result.tolerant.analysis.program, result.text
    elif uri in ls.last_good:
        program, text = ls.last_good[uri].program, None
    else:
        return []
    return [_symbol(s) for s in queries.outline(program, text) if s.span.file == _path(uri)]


def _symbol(symbol: queries.Symbol) -> lsp.DocumentSymbol:
    children = [_symbol(c) for c in symbol.children if c.name not in PLACEHOLDERS]
    return lsp.DocumentSymbol(name=symbol.name, kind=_SYMBOL_KINDS[symbol.kind], range=_range(symbol.span),
                              selection_range=_range(symbol.name_span), children=children)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
async def rename(ls: TfmLanguageServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    """The edits renaming the name under the cursor; an error response if the language refuses the
    new name (not an identifier, a keyword, reserved, or taken in that scope): the renamed text is
    checked, and must have no error the current one does not."""
    new_name = params.new_name
    refused = _refused_name(new_name)
    if refused:
        raise JsonRpcInvalidParams(f"renaming to `{new_name[:80]}`: {refused}")
    uri, path = params.text_document.uri, _path(params.text_document.uri)
    result = await _off_the_loop(ls.analyser.settled, uri, EDIT_WAIT)  # the edits must fit the newest text
    analysis = result.tolerant.analysis if result is not None else None
    if result is None or analysis is None:
        return None
    found = queries.references(analysis, path, params.position.line + 1, params.position.character + 1)
    if found is None:
        return None
    spans = [span for span in found[1] if span.file == path]
    if result.tolerant.clean:  # the renamed text must check as the current one does
        problem = await _off_the_loop(_first_error, ls, _renamed(result.text, spans, new_name), path)
        if problem is not None:
            raise JsonRpcInvalidParams(f"renaming to `{new_name}`: {problem}")
    edits = [lsp.TextEdit(range=_range(span), new_text=new_name) for span in spans]
    return lsp.WorkspaceEdit(changes={uri: edits})


def _refused_name(name: str) -> str | None:
    """Why no declaration could take `name` (whatever it declares), or None."""
    if not name.isidentifier():
        return "not an identifier"
    if name in grammar_keywords() and not keyword.iskeyword(name):
        return f"`{name}` is a tfm keyword"
    problem = name_problem(name, "declaration")
    return problem[0] if problem else None


def _first_error(ls: TfmLanguageServer, text: str, path: str) -> str | None:
    try:
        dsl.analyze(text, path)  # beside the analyser's own: analyses share no state
    except dsl.TfmError as exc:
        return exc.diagnostics[0].message if exc.diagnostics else "the renamed text does not check"
    except Exception:  # a bug in tfm: not the rename's fault
        return None
    return None


def _renamed(text: str, spans, new_name: str) -> str:
    """`text` with each (one-line) span replaced by `new_name`."""
    lines = text.split("\n")
    for span in sorted(spans, key=lambda s: (s.line, s.column), reverse=True):
        row = lines[span.line - 1]
        lines[span.line - 1] = row[: span.column - 1] + new_name + row[span.end_column - 1:]
    return "\n".join(lines)


def main() -> int:
    sys.setswitchinterval(0.001)  # the analyser's thread hands the interpreter back to requests sooner

    def started(loop: asyncio.AbstractEventLoop) -> None:
        server.loop = loop

    serve(server, sys.stdin.buffer, sys.stdout.buffer, started)
    return 0
