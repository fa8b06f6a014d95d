"""`tfm lsp`: the Language Server Protocol over stdio (pygls), for any editor.

Diagnostics as you type (the codes, spans and hints of `tfm check`; warnings too), hover with the
inferred dtype and shape of an expression or the signature of an op, method or member, go to
definition (members, modules across imports, locals, inputs), completion of ops with their
parameters, keywords, members and modules, the document outline, and rename of a local or member.
The answers come from `tfm.dsl.queries`; this module only converts positions and types.
No TensorFlow import.

The editor may be buggy or hostile, so the framing is read here, not by pygls's loop: a
`Content-Length` that is missing, negative, not a number or over MAX_MESSAGE_BYTES sets that frame
aside (the reader finds the next header) instead of killing or wedging the server; a body that is not
JSON gets a parse error, and a request whose parameters do not fit the protocol (a negative
position) an invalid-params error with its id. A document over MAX_DOCUMENT_CHARS is not analysed.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import re
import sys
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.json_rpc import RPCMessage

from tfm import dsl
from tfm.dsl import queries
from tfm.dsl.diagnostics import Diagnostic
from tfm.dsl.names import name_problem
from tfm.highlight import grammar_keywords

_SYMBOL_KINDS = {"module": lsp.SymbolKind.Class, "variable": lsp.SymbolKind.Field, "state": lsp.SymbolKind.Field,
                 "submodule": lsp.SymbolKind.Object, "method": lsp.SymbolKind.Method,
                 "parameter": lsp.SymbolKind.TypeParameter}
_COMPLETION_KINDS = {"function": lsp.CompletionItemKind.Function, "keyword": lsp.CompletionItemKind.Keyword,
                     "module": lsp.CompletionItemKind.Class, "variable": lsp.CompletionItemKind.Field,
                     "field": lsp.CompletionItemKind.Field, "method": lsp.CompletionItemKind.Method}


MAX_MESSAGE_BYTES = 64 * 2**20
MAX_HEADER_LINE = 4096
MAX_DOCUMENT_CHARS = 256 * 2**10  # about 8,000 lines: analysed as you type within seconds on a loaded machine
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\S*)[ \t]*\r?\n?$", re.IGNORECASE)


class TfmLanguageServer(LanguageServer):
    """Keeps, per open document, its last good analysis: hover and completion keep working while
    the text is briefly invalid during typing."""

    def __init__(self):
        from tfm.version import tfm_version

        super().__init__("tfm", tfm_version())
        self.analyses: dict[str, dsl.Analysis] = {}
        self.clean: dict[str, bool] = {}  # whether the document's current text has no errors


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
    ls.clean[uri] = False
    if len(document.source) > MAX_DOCUMENT_CHARS:
        ls.analyses.pop(uri, None)
        found = [dsl.Diagnostic(code="E056", severity="error", span=dsl.nodes.Span(
            file=path, line=1, column=1, end_line=1, end_column=1),
            message=f"a document of {len(document.source):,} characters is more than the editor limit of "
                    f"{MAX_DOCUMENT_CHARS:,}", hint="check it with `tfm check` on the command line")]
    else:
        found = _diagnostics(ls, uri, path, dsl.parser.normalize_text(document.source))
    mine = [d for d in found if d.span.file == path]
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
        uri=uri, diagnostics=[_to_lsp(d, uri) for d in mine], version=document.version))


def _diagnostics(ls: TfmLanguageServer, uri: str, path: str, text: str) -> list[Diagnostic]:
    try:
        analysis = dsl.analyze(text, path)
    except dsl.TfmError as exc:
        return list(exc.diagnostics)
    except Exception as exc:  # a bug in tfm must not take the editor's server down
        ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"tfm: {exc!r}"))
        return []
    ls.analyses[uri] = analysis
    ls.clean[uri] = True
    return list(analysis.warnings)


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
        if len(document.source) > MAX_DOCUMENT_CHARS:
            return []
        program = dsl.parse(document.source, _path(params.text_document.uri))
    except Exception:  # a syntax error (or a bug in tfm): the outline of the last good text
        analysis = ls.analyses.get(params.text_document.uri)
        if analysis is None:
            return []
        program = analysis.program
    return [_symbol(s) for s in queries.outline(program)]


def _symbol(symbol: queries.Symbol) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(name=symbol.name, kind=_SYMBOL_KINDS[symbol.kind], range=_range(symbol.span),
                              selection_range=_range(symbol.name_span), children=[_symbol(c) for c in symbol.children])


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def rename(ls: TfmLanguageServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    """The edits renaming the name under the cursor; an error response if the language refuses the
    new name (not an identifier, a keyword, reserved, or taken in that scope): the renamed text is
    checked, and must have no error the current one does not."""
    analysis, path, line, column = _at(ls, params)
    new_name = params.new_name
    refused = _refused_name(new_name)
    if refused:
        raise JsonRpcInvalidParams(f"renaming to `{new_name[:80]}`: {refused}")
    if analysis is None:
        return None
    uri = params.text_document.uri
    text = dsl.parser.normalize_text(ls.workspace.get_text_document(uri).source)
    found = queries.references(analysis, path, line, column)
    if found is None:
        return None
    spans = [span for span in found[1] if span.file == path]
    if ls.clean.get(uri):  # the renamed text must check as the current one does
        problem = _first_error(_renamed(text, spans, new_name), path)
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


def _first_error(text: str, path: str) -> str | None:
    try:
        dsl.analyze(text, path)
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
    serve(server, sys.stdin.buffer, sys.stdout.buffer)
    return 0


def serve(ls: TfmLanguageServer, stdin, stdout) -> None:
    """Read framed messages from `stdin` and hand each to pygls; answer from its handlers on `stdout`."""
    writer = StdoutWriter(stdout)
    ls.protocol.set_writer(writer)
    try:
        asyncio.run(_read_messages(ls, stdin, writer))
    except (BrokenPipeError, KeyboardInterrupt, SystemExit):
        pass
    finally:
        ls.shutdown()


async def _read_messages(ls: TfmLanguageServer, stdin, writer: StdoutWriter) -> None:
    loop = asyncio.get_running_loop()
    while True:
        length, problem = await _read_header(loop, stdin)
        if problem is not None:
            _log(ls, f"tfm lsp: a message set aside: {problem}")
            continue
        if length is None:
            return  # end of input
        body = await loop.run_in_executor(None, stdin.read, length)
        if len(body) < length:
            return
        _dispatch(ls, body, writer)


async def _read_header(loop, stdin) -> tuple[int | None, str | None]:
    """(Content-Length, None) for a good header block; (None, why) for one to set aside; (None,
    None) at the end of input. A header line found glued to the end of a set-aside body (no newline
    between them) starts a new block, so one bad frame costs only itself."""
    length, problem = None, None
    while True:
        line = await loop.run_in_executor(None, stdin.readline, MAX_HEADER_LINE)
        if not line:
            return None, None
        if line.strip() == b"":
            if length is None and problem is None:
                problem = "no Content-Length header"
            return (None, problem) if problem else (length, None)
        header = re.search(rb"content-length:.*$", line, re.IGNORECASE | re.DOTALL)
        if header is None:
            continue  # Content-Type, or the tail of a set-aside body
        found = _CONTENT_LENGTH.match(header.group())
        length, problem = None, None
        if found is None:  # `Content-Length: 1 2`, or a stray `\r` or control byte in the line
            problem = f"Content-Length header {header.group()[:60]!r} is not a number of bytes"
            continue
        value = found.group(1)
        if not value.isdigit():
            problem = f"Content-Length {value[:40]!r} is not a number of bytes"
        elif len(value) > 12 or int(value) > MAX_MESSAGE_BYTES:
            problem = f"Content-Length {value[:40].decode()} is over the limit of {MAX_MESSAGE_BYTES:,} bytes"
        else:
            length = int(value)


def _dispatch(ls: TfmLanguageServer, body: bytes, writer: StdoutWriter) -> None:
    """One message to pygls; a body that is not a JSON-RPC message, or a request whose parameters do
    not fit the protocol, gets its error response here (pygls would log it and never answer)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        _send_error(writer, None, -32700, "Parse error: the message is not JSON")
        return
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        _send_error(writer, None, -32600, "Invalid Request: a message is a JSON-RPC 2.0 object")
        return
    try:
        message = ls.protocol.structure_message(data)
    except Exception as exc:  # pygls's own error: the parameters do not fit the protocol's types
        if "method" in data and "id" in data:
            request = data["id"] if isinstance(data["id"], (int, str)) and not isinstance(data["id"], bool) else None
            _send_error(writer, request, -32602, f"Invalid params for {str(data['method'])[:80]}: {exc}")
        else:
            _log(ls, f"tfm lsp: a notification set aside: {exc}")
        return
    # `data` has "jsonrpc", so pygls structured it into one of its message classes, which its own
    # handle_message takes (its annotations disagree only on whether an error response's id may be None).
    try:
        ls.protocol.handle_message(cast(RPCMessage, message))
    except Exception as exc:  # pygls's own failure on an odd message: that message only
        _log(ls, f"tfm lsp: a message set aside: {exc!r}")


def _send_error(writer: StdoutWriter, request, code: int, message: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": request, "error": {"code": code, "message": message}}).encode()
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _log(ls: TfmLanguageServer, message: str) -> None:
    ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Warning, message=message))
