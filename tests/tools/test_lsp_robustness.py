"""`tfm lsp` against a buggy or hostile editor (issue 20, item 12), spoken to in raw bytes over a real
subprocess's stdin and stdout: bad framing (a Content-Length huge, negative, missing or not a number,
a body that is not JSON), invalid positions and huge documents never kill or wedge the server, every
request gets an answer or an error response, and rename refuses names the language refuses."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest

from tfm.lsp import MAX_DOCUMENT_CHARS

MODEL = """module Model(units: int = 4):
    var w: f32[3, units] = glorot_uniform(seed=1)

    fn call(x: f32[N, 3]) -> f32[N, units]:
        h = relu(x @ w)
        return h
"""
URI = "file:///nonexistent/m.tfm"


class RawClient:
    """A language client that writes bytes: what pytest-lsp's well-behaved client never sends."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "tfm", "lsp"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.next_id = 1

    def write(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self._frame({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 60) -> dict:
        self.next_id += 1
        self._frame({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.response(self.next_id, timeout)

    def _frame(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def response(self, request_id, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (message := self.message(deadline)) is not None:
            if "method" not in message and message.get("id") == request_id:
                return message
        raise AssertionError(f"no answer to request {request_id} (server exit code {self.process.poll()})")

    def notification(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (message := self.message(deadline)) is not None:
            if message.get("method") == method:
                return message
        raise AssertionError(f"no {method} (server exit code {self.process.poll()})")

    def message(self, deadline: float) -> dict | None:
        while True:
            head, separator, rest = self.buffer.partition(b"\r\n\r\n")
            if separator:
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return json.loads(rest[:length])
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk

    def open(self, text: str) -> dict:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "tfm", "version": 1,
                                                              "text": text}})
        return self.notification("textDocument/publishDiagnostics")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def client():
    raw = RawClient()
    answer = raw.request("initialize", {"capabilities": {}})
    assert "capabilities" in answer["result"]
    raw.notify("initialized", {})
    yield raw
    raw.close()


def _hover(client: RawClient, line: int = 4, character: int = 8) -> dict:
    return client.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                 "position": {"line": line, "character": character}})


@pytest.mark.parametrize("frame", [
    b"Content-Length: 99999999999999999999\r\n\r\n{}",  # huge: pygls tried to read it all, and died
    b"Content-Length: 4294967296\r\n\r\n{}",
    b"Content-Length: -5\r\n\r\n{}",
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Type: application/json\r\n\r\n{}",  # no Content-Length at all
    b"\r\n",
    b"Content-Length: " + b"9" * 100_000 + b"\r\n\r\n",  # a header line longer than any header
    b"Content-Length: 1 2\r\n\r\n{}",  # a value the pattern does not match: the match was unchecked
    b"Content-Length: 2\r\r\n\r\n{}",  # a stray carriage return
])
def test_bad_framing_costs_only_its_own_frame(client, frame):
    client.open(MODEL)
    client.write(frame)
    assert "`h`" in _hover(client)["result"]["contents"]["value"]
    assert client.process.poll() is None


@pytest.mark.parametrize("body, code", [(b"{{{{", -32700), (b"[1, 2]", -32600), (b"[" * 100_000, -32700),
                                        (b"{}", -32600), (b'{"jsonrpc": "1.0", "id": 3, "method": "x"}', -32600)])
def test_a_body_that_is_no_message_gets_an_error_response(client, body, code):
    client.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    answer = client.response(None)
    assert answer["error"]["code"] == code
    for odd in [{"jsonrpc": "2.0"}, {"jsonrpc": "2.0", "id": 99}, {"jsonrpc": "2.0", "id": 98, "result": 1},
                {"jsonrpc": "2.0", "method": "no/such/notification"}]:
        client._frame(odd)
    assert client.request("shutdown", {})["result"] is None


@pytest.mark.parametrize("method", ["textDocument/hover", "textDocument/definition", "textDocument/completion",
                                    "textDocument/rename", "textDocument/documentSymbol"])
@pytest.mark.parametrize("line, character", [(-1, 0), (0, -5), (2**40, 0), (9999, 0), (4, 99_999), (5, 7)])
def test_every_request_at_any_position_gets_an_answer_or_an_error(client, method, line, character):
    client.open(MODEL)
    params = {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}, "newName": "y"}
    answer = client.request(method, params)
    valid = 0 <= line < 2**31 and 0 <= character < 2**31 or method.endswith("documentSymbol")  # no position
    assert ("result" in answer) == valid and ("error" in answer) != valid, answer
    if not valid:
        assert answer["error"]["code"] == -32602
    assert "`h`" in _hover(client)["result"]["contents"]["value"]  # and the server goes on


def test_a_change_outside_the_document_does_not_take_the_server_down(client):
    client.open(MODEL)
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2},
        "contentChanges": [{"range": {"start": {"line": 500, "character": 3}, "end": {"line": 900, "character": 1}},
                            "text": "x"}]})
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 3},
        "contentChanges": [{"range": {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}},
                            "text": "x"}]})
    assert client.request("shutdown", {})["result"] is None


def test_a_huge_document_is_refused_not_analysed(client):
    huge = MODEL * (MAX_DOCUMENT_CHARS // len(MODEL) + 1)
    started = time.monotonic()
    [diagnostic] = client.open(huge)["params"]["diagnostics"]
    assert diagnostic["code"] == "E056" and "editor limit" in diagnostic["message"]
    assert time.monotonic() - started < 30
    assert "result" in _hover(client)
    assert client.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})["result"] == []


@pytest.mark.parametrize("new_name, why", [
    ("if", "keyword"), ("module", "tfm keyword"), ("x y", "not an identifier"), ("1abc", "not an identifier"),
    ("", "not an identifier"), ("_h", "underscore"), ("h__x", "double underscore"), ("tf", "generated Python"),
    ("self", "generated Python"), ("relu", "not an operation"), ("units", "units"), ("héllo", "ASCII"),
])
def test_rename_refuses_what_the_language_refuses(client, new_name, why):
    client.open(MODEL)
    answer = client.request("textDocument/rename", {"textDocument": {"uri": URI}, "position": {"line": 4, "character": 8},
                                                    "newName": new_name})
    assert answer["error"]["code"] == -32602 and why in answer["error"]["message"], answer


def test_rename_to_a_free_name_edits_every_use(client):
    client.open(MODEL)
    answer = client.request("textDocument/rename", {"textDocument": {"uri": URI}, "position": {"line": 4, "character": 8},
                                                    "newName": "hidden"})
    edits = answer["result"]["changes"][URI]
    assert [(e["range"]["start"]["line"], e["newText"]) for e in edits] == [(4, "hidden"), (5, "hidden")]


def test_a_lone_surrogate_in_the_document_is_a_diagnostic(client):
    [diagnostic] = client.open(MODEL.replace("relu(x @ w)", "relu(x @ w)  # \ud800"))["params"]["diagnostics"]
    assert diagnostic["code"] == "E005" and diagnostic["range"]["start"]["line"] == 4
    assert client.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})["result"] is not None
