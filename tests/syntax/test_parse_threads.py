"""Parses in several threads at once: each parse has a parser of its own (its node builder and indenter
keep per-parse state), so no parse sees another's file name or indentation, and no lock serialises them."""

from __future__ import annotations

import threading

from tfm.dsl import analyze, parse
from tfm.dsl.analysis import walk


def _source(index: int) -> str:
    body = "".join(f"        y{k} = x * {k}.0 + {index}.0\n" for k in range(40))
    return (f"module M{index}(n: int = {index + 1}):\n"
            f"    var w: f32[n] = zeros()\n"
            f"    fn f(x: f32[n]) -> f32[n]:\n{body}"
            f"        if {index} > 3:\n            return x + w\n        return y39\n")


def test_parallel_parses_keep_their_own_file_names_and_shapes():
    sources = {f"file{i}.tfm": _source(i) for i in range(8)}
    expected = {file: parse(text, file) for file, text in sources.items()}
    failures: list[str] = []
    start = threading.Barrier(len(sources))

    def parse_many(file: str, text: str) -> None:
        try:
            start.wait()
            parse_repeatedly(file, text)
        except Exception as exc:  # a thread's exception would not fail the test by itself
            failures.append(f"{file}: {exc!r}")

    def parse_repeatedly(file: str, text: str) -> None:
        for _ in range(15):
            program = parse(text, file)
            files = {node.span.file for node in walk(program)}
            if files != {file}:
                failures.append(f"{file}: spans name {sorted(files)}")
            if len(walk(program)) != len(walk(expected[file])):
                failures.append(f"{file}: a different tree")
            analysis = analyze(text, file)
            if analysis.program.modules[0].name != f"M{file[4:-4]}":
                failures.append(f"{file}: analysed the wrong source")

    threads = [threading.Thread(target=parse_many, args=item) for item in sources.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
