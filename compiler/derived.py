"""Rewrite the committed files derived from the op registry and the grammar: never edit them by hand.

    python -m tfm.derived          # rewrite them
    python -m tfm.derived --check  # exit 1, naming each, if one is out of date

- `editors/tfm.tmLanguage.json`, the TextMate grammar (`tfm.highlight.textmate_grammar`: keywords from
  the Lark grammar, op and module names from the registry and the library);
- the op table in `docs/language.md` (the section "Ops"): each category's row lists the registry's ops of
  that category, in declaration order. A row's notes after its first code span are prose and kept; a row
  whose names already match is left as written (so `resize(images, ...)` may show its signature).

So adding an op is one entry in its family file: the derived files follow from this command, and
`tests/ops/test_op_registry.py` and `tests/tools/test_highlight.py` fail until they have.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXTMATE = Path("editors") / "tfm.tmLanguage.json"
LANGUAGE_DOC = Path("docs") / "language.md"
_OPS_HEADING = "\n## Ops\n"


def textmate_text() -> str:
    from tfm.highlight import textmate_grammar

    return json.dumps(textmate_grammar(), indent=2) + "\n"


def registry_categories() -> dict[str, list[str]]:
    """Category -> its ops' names, in the order the registry declares them."""
    from tfm.dsl.ops import OPS

    categories: dict[str, list[str]] = {}
    for op in OPS.values():
        categories.setdefault(op.category, []).append(op.name)
    return categories


def _listed(cell: str) -> list[str]:
    """The op names a cell's first code span lists (a call `f(...)` counts as `f`)."""
    spans = cell.split("`")
    return spans[1].split("(")[0].split() if len(spans) > 2 else []


def _row(category: str, names: list[str], old_cell: str | None) -> str:
    if old_cell is not None and sorted(_listed(old_cell)) == sorted(names):
        return f"| {category} | {old_cell} |"
    notes = old_cell.split("`", 2)[2] if old_cell and old_cell.count("`") >= 2 else ""
    return f"| {category} | `{' '.join(names)}`{notes} |"


def language_doc_text(current: str) -> str:
    """`current` (docs/language.md) with its op table's rows made from the registry."""
    head, section = current.split(_OPS_HEADING, 1)
    section, next_heading, rest = section.partition("\n## ")
    lines = section.split("\n")
    start = next(k for k, line in enumerate(lines) if line.startswith("| category |"))
    end = next((k for k in range(start + 2, len(lines)) if not lines[k].startswith("|")), len(lines))
    old = {}
    for line in lines[start + 2:end]:
        category, cell = (c.strip() for c in line.strip().strip("|").split("|", 1))
        old[category] = cell.strip()
    rows = [_row(category, names, old.get(category)) for category, names in registry_categories().items()]
    lines[start + 2:end] = rows
    section = "\n".join(lines)
    return head + _OPS_HEADING + section + next_heading + rest


def out_of_date(root: Path = ROOT) -> dict[Path, str]:
    """Each derived file that differs from what it derives from -> its wanted text."""
    wanted = {TEXTMATE: textmate_text(),
              LANGUAGE_DOC: language_doc_text((root / LANGUAGE_DOC).read_text(encoding="utf-8"))}
    return {path: text for path, text in wanted.items()
            if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tfm.derived", description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report the files that are out of date")
    args = parser.parse_args(argv)
    checkout_files = (Path("pyproject.toml"), Path("grammar") / "tfm.lark", LANGUAGE_DOC)
    if not all((ROOT / path).is_file() for path in checkout_files):
        # An installed tfm has no docs/ or editors/ beside it: write nothing there.
        print(f"python -m tfm.derived: {ROOT} is no tfm checkout (it rewrites a checkout's own files)")
        return 2
    stale = out_of_date()
    if args.check:
        for path in stale:
            print(f"{path}: out of date (run: python -m tfm.derived)")
        return 1 if stale else 0
    from tfm.files import write_atomic

    for path, text in stale.items():
        write_atomic(ROOT / path, text)
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
