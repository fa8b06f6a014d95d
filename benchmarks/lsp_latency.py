"""How fast `tfm lsp` answers through a real client: a `tfm lsp` subprocess spoken to over its stdin
and stdout, as an editor does.

- a 2,000-line document: after each one-character edit (an incremental `didChange`), how long until
  the diagnostics of that version arrive, and how long a hover sent right behind the edit takes;
- a 20,000-statement document: the longest any request waits while it is opened, analysed and
  edited (hovers sent every 50 ms throughout).

Prints the figures; `--write docs/benchmarks.md` puts them in that page's last section (replacing
that section if the page has it, appending it if not; the rest of the page is left as it is).

    .venv/bin/python benchmarks/lsp_latency.py [--edits 40] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

from page import write_section  # benchmarks/page.py: this directory is on sys.path when run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_speed import large_source  # noqa: E402

HEADING = "## How fast the language server answers"
URI = "file:///benchmark/model.tfm"


class Client:
    """A minimal LSP client over a `tfm lsp` subprocess's pipes."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "tfm", "lsp"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.next_id = 0
        self.arrived: list[tuple[float, dict]] = []  # messages read while waiting for another one

    def send(self, message: dict) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return time.perf_counter()

    def request(self, method: str, params: dict) -> tuple[int, float]:
        self.next_id += 1
        return self.next_id, self.send({"id": self.next_id, "method": method, "params": params})

    def notify(self, method: str, params: dict) -> float:
        return self.send({"method": method, "params": params})

    def wait(self, wanted, timeout: float = 120.0) -> tuple[float, dict]:
        """The first message `wanted(message)` accepts, and when it arrived."""
        for index, (when, message) in enumerate(self.arrived):
            if wanted(message):
                del self.arrived[index]
                return when, message
        deadline = time.perf_counter() + timeout
        while True:
            when, message = self._read(deadline)
            if wanted(message):
                return when, message
            self.arrived.append((when, message))

    def _read(self, deadline: float) -> tuple[float, dict]:
        assert self.process.stdout is not None
        while True:
            head, separator, rest = self.buffer.partition(b"\r\n\r\n")
            if separator:
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return time.perf_counter(), json.loads(rest[:length])
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                raise TimeoutError("tfm lsp did not answer")
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise EOFError("tfm lsp exited")
            self.buffer += chunk

    def start(self) -> None:
        number, _ = self.request("initialize", {"capabilities": {}, "processId": None, "rootUri": None})
        self.wait(lambda m: m.get("id") == number)
        self.notify("initialized", {})

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _diagnostics_of(version: int):
    return lambda m: (m.get("method") == "textDocument/publishDiagnostics"
                      and m["params"]["uri"] == URI and m["params"].get("version") == version)


def _hover(client: Client, line: int, character: int) -> tuple[int, float]:
    return client.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                 "position": {"line": line, "character": character}})


def _digit_positions(text: str, count: int) -> list[tuple[int, int]]:
    """(line, character) of the digit of `seed=N` in `count` modules spread over the document."""
    lines = text.split("\n")
    found = [(number, line.index("seed=") + 5) for number, line in enumerate(lines) if "seed=" in line]
    step = max(len(found) // count, 1)
    return found[::step][:count]


def keystrokes(lines: int = 2000, edits: int = 40) -> dict:
    """Per one-character edit of a `lines`-line document: diagnostics and hover latency (seconds)."""
    text = large_source(lines)
    client = Client()
    try:
        client.start()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "tfm", "version": 1,
                                                                "text": text}})
        client.wait(_diagnostics_of(1))
        rows = text.split("\n")
        target = next(n for n, row in enumerate(rows) if row.strip().startswith("y = x @ w"))
        hover_at = (target, rows[target].index("y = x"))
        diagnostics, hovers = [], []
        for version, (line, character) in enumerate(_digit_positions(text, edits), 2):
            digit = str(version % 9 + 1)  # never a leading zero: the text stays valid
            sent = client.notify("textDocument/didChange", {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"range": {"start": {"line": line, "character": character},
                                              "end": {"line": line, "character": character + 1}}, "text": digit}]})
            number, asked = _hover(client, *hover_at)
            answered, reply = client.wait(lambda m, number=number: m.get("id") == number)
            assert reply.get("result"), reply
            hovers.append(answered - asked)
            arrived, _ = client.wait(_diagnostics_of(version))
            diagnostics.append(arrived - sent)
    finally:
        client.close()
    return {"lines": text.count("\n"), "edits": len(diagnostics), "diagnostics": diagnostics, "hovers": hovers}


def statements_source(statements: int) -> str:
    """A valid document of `statements` statements (a multiple of 40): modules of one method of 39
    assignments and a return each."""
    parts = []
    for index in range((statements + 39) // 40):
        body = "\n".join(f"        v{k} = v{k - 1} * 0.5 + x" for k in range(1, 39))
        parts.append(f"module Chain{index}:\n    fn run(x: f32[N]) -> f32[N]:\n        v0 = x\n{body}\n"
                     f"        return v38\n\n")
    return "".join(parts)


def large_document(statements: int = 20_000, interval: float = 0.05) -> dict:
    """The longest a request waits while a document of `statements` statements is opened, analysed,
    then edited; hovers are sent every `interval` seconds throughout."""
    text = statements_source(statements)
    client = Client()
    waits: list[float] = []
    try:
        client.start()
        opened = client.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "tfm",
                                                                         "version": 1, "text": text}})
        analysed = _hover_until(client, _diagnostics_of(1), waits, interval) - opened
        edited = client.notify("textDocument/didChange", {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 3, "character": 20}, "end": {"line": 3, "character": 21}},
                                "text": "6"}]})
        reanalysed = _hover_until(client, _diagnostics_of(2), waits, interval) - edited
    finally:
        client.close()
    return {"statements": statements, "characters": len(text), "requests": len(waits), "longest_wait": max(waits),
            "median_wait": statistics.median(waits),
            "first_analysis": analysed, "after_an_edit": reanalysed}


def _hover_until(client: Client, done, waits: list[float], interval: float) -> float:
    """Hover every `interval` seconds until the message `done` accepts arrives; when it arrived."""
    while True:
        number, asked = _hover(client, 3, 9)
        answered, _ = client.wait(lambda m, number=number: m.get("id") == number)
        waits.append(answered - asked)
        for index, (when, message) in enumerate(client.arrived):
            if done(message):
                del client.arrived[index]
                return when
        time.sleep(interval)


def render(small: dict, large: dict) -> str:
    ms = lambda seconds: f"{seconds * 1000:.0f} ms"  # noqa: E731
    rows = [
        f"| diagnostics after a one-character edit of a {small['lines']:,}-line document (median of "
        f"{small['edits']}; slowest) | {ms(statistics.median(small['diagnostics']))}; {ms(max(small['diagnostics']))} "
        f"| <= 150 ms, {'met' if statistics.median(small['diagnostics']) <= 0.150 else '**not met**'} |",
        f"| hover sent right behind that edit (median; slowest) | {ms(statistics.median(small['hovers']))}; "
        f"{ms(max(small['hovers']))} | <= 50 ms, {'met' if statistics.median(small['hovers']) <= 0.050 else '**not met**'} |",
        f"| longest wait of any of {large['requests']} hovers while a {large['statements']:,}-statement document "
        f"({large['characters']:,} characters) is opened, analysed and edited (median) | {ms(large['longest_wait'])} "
        f"({ms(large['median_wait'])}) | "
        f"<= 1 s, {'met' if large['longest_wait'] <= 1.0 else '**not met**'} |",
        f"| that document's first analysis; after an edit | {ms(large['first_analysis'])}; "
        f"{ms(large['after_an_edit'])} | measured |",
    ]
    return "\n".join([
        HEADING, "",
        "Measured by `benchmarks/lsp_latency.py` through a real client: a `tfm lsp` subprocess spoken to over its "
        "pipes, with incremental `didChange` edits (wall time, on this shared machine).", "",
        "| measure | value | goal |", "|---|---|---|", *rows, "",
        "Why it is fast: analysis runs in a background thread and requests are answered at once from the last "
        "analysis; each edit re-parses only the top-level chunk (`module` or `import` with its lines) whose text "
        "changed, and re-checks only the modules whose nodes, or whose submodules' modules, changed, merging "
        "the rest from the previous analysis (`dsl/incremental.py`; a syntax error that reads past its module, "
        "as an unclosed bracket, or an error whose rule spans modules, makes the file be analysed whole). A "
        "hover on a document not analysed yet waits at most 250 ms for its first analysis, then answers "
        "nothing. The edited document is `benchmarks/compile_speed.py`'s "
        "large source; each edit changes one digit of a `seed=` in a different module.", ""])


def write(page: Path, section: str) -> None:
    """`section` as this script's own section of `page` (tfm's other sections are left as they are)."""
    write_section(page, "lsp_latency.py", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--write", metavar="PAGE", help="put the figures in PAGE (in this script's own section)")
    args = parser.parse_args()
    section = render(keystrokes(args.lines, args.edits), large_document(args.statements))
    print(section)
    if args.write:
        write(Path(args.write), section)


if __name__ == "__main__":
    main()
