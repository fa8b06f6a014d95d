"""The framing of `tfm lsp`'s messages, read here rather than by pygls's loop: the editor may be buggy
or hostile. A `Content-Length` that is missing, negative, not a number or over MAX_MESSAGE_BYTES sets
that frame aside (the reader finds the next header) instead of killing or wedging the server; a body
that is not JSON gets a parse error, and a request whose parameters do not fit the protocol (a negative
position) an invalid-params error with its id.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Callable, cast

from lsprotocol import types as lsp
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.json_rpc import RPCMessage

MAX_MESSAGE_BYTES = 64 * 2**20
MAX_HEADER_LINE = 4096
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\S*)[ \t]*\r?\n?$", re.IGNORECASE)


def serve(ls: LanguageServer, stdin, stdout,
          started: Callable[[asyncio.AbstractEventLoop], None] | None = None) -> None:
    """Read framed messages from `stdin` and hand each to pygls; answer from its handlers on `stdout`.
    `started` is given the event loop the handlers run on, once it runs."""
    writer = StdoutWriter(stdout)
    ls.protocol.set_writer(writer)
    try:
        asyncio.run(_read_messages(ls, stdin, writer, started))
    except (BrokenPipeError, KeyboardInterrupt, SystemExit):
        pass
    finally:
        ls.shutdown()


async def _read_messages(ls: LanguageServer, stdin, writer: StdoutWriter,
                         started: Callable[[asyncio.AbstractEventLoop], None] | None) -> None:
    loop = asyncio.get_running_loop()
    if started is not None:
        started(loop)
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


def _dispatch(ls: LanguageServer, body: bytes, writer: StdoutWriter) -> None:
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


def _log(ls: LanguageServer, message: str) -> None:
    ls.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Warning, message=message))
