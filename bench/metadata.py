"""Benchmark: how many pictures' generation settings Atelier reads, per generator.

Reads every picture with app.model.image_files.read_generation_info, as `atelier info`,
File > Open's Reuse settings and drag-and-drop do:
- tests/fixtures/metadata/<generator>/: pictures made the way each generator writes its
  settings, each folder's expected.json naming what should be read (file name -> fields).
  A file is read "full" when every expected field is read right, "partly" when some are,
  "none" when none is, nothing is read or reading fails;
- when present, the shared corpus of other projects' sample pictures
  (../shared/corpus/metadata/parsers/<generator>/), which has no expected values: "full"
  when prompt, seed, steps, CFG and size are all read, "partly" when anything is, "none"
  when nothing is or reading fails.

Prints a table per generator and folder, the files not read fully with what was missed,
and the summary line with the ratios of all files.

Run: python bench/metadata.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.model.image_files import read_generation_info  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "metadata"
CORPUS = ROOT.parent / "shared" / "corpus" / "metadata" / "parsers"
PICTURES = (".png", ".jpg", ".jpeg", ".webp")
CORPUS_FIELDS = ("prompt", "seed", "steps", "cfg_scale", "width", "height")
READ_FIELDS = (*CORPUS_FIELDS, "negative_prompt", "scheduler", "model")
GRADES = ("full", "partly", "none")


@dataclass
class Tally:
    """The grades of one generator's pictures in one folder, and what was missed."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))
    misses: list[str] = field(default_factory=list)


def _read(path: Path) -> tuple[Any, str]:
    """The settings read from a picture (None when none), or the reason reading failed."""
    try:
        return read_generation_info(path), ""
    except Exception as exc:  # a bench counts every failure, whatever it is
        return None, f"{type(exc).__name__}: {exc}"


def grade_expected(path: Path, expected: dict[str, Any]) -> tuple[str, str]:
    """A fixture's grade by its expected fields, and what was missed."""
    info, error = _read(path)
    if info is None:
        return "none", error or "no settings read"
    wrong = [key for key, value in expected.items() if getattr(info, key, None) != value]
    if not wrong:
        return "full", ""
    grade = "none" if len(wrong) == len(expected) else "partly"
    return grade, "wrong or missing: " + ", ".join(wrong)


def grade_corpus(path: Path) -> tuple[str, str]:
    """A corpus picture's grade by which of the core fields were read."""
    info, error = _read(path)
    if info is None:
        return "none", error or "no settings read"
    read = {key for key in READ_FIELDS if getattr(info, key) not in (None, "")}
    missing = [key for key in CORPUS_FIELDS if key not in read]
    if not missing:
        return "full", ""
    return ("partly" if read else "none"), "not read: " + ", ".join(missing)


def fixture_tallies() -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for folder in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file()):
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        tally = tallies.setdefault(folder.name, Tally())
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in PICTURES):
            if path.name in expected:
                grade, miss = grade_expected(path, expected[path.name])
            else:
                grade, miss = grade_corpus(path)
            tally.counts[grade] += 1
            if miss:
                tally.misses.append(f"{path.name}: {miss}")
    return tallies


def corpus_tallies() -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    if not CORPUS.is_dir():
        return tallies
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        tally = tallies.setdefault(folder.name, Tally())
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in PICTURES):
            grade, miss = grade_corpus(path)
            tally.counts[grade] += 1
            if miss:
                tally.misses.append(f"{path.name}: {miss}")
    return tallies


def main() -> None:
    tables = {"fixtures": fixture_tallies(), "corpus": corpus_tallies()}
    if not CORPUS.is_dir():
        print(f"(no shared corpus at {CORPUS}: fixtures only)")
    totals = dict.fromkeys(GRADES, 0)
    print(f"{'folder':<9} {'generator':<22} {'files':>5} {'full':>5} {'partly':>6} {'none':>5}")
    for source, tallies in tables.items():
        for generator, tally in tallies.items():
            c = tally.counts
            files = sum(c.values())
            print(
                f"{source:<9} {generator:<22} {files:>5} {c['full']:>5} {c['partly']:>6} "
                f"{c['none']:>5}"
            )
            for grade in GRADES:
                totals[grade] += c[grade]
    print("\nnot read fully:")
    for source, tallies in tables.items():
        for generator, tally in tallies.items():
            for miss in tally.misses:
                print(f"  {source}/{generator}/{miss[:160]}")
    count = sum(totals.values()) or 1
    ratios = " ".join(f"{grade}={totals[grade] / count:.3f}" for grade in GRADES)
    print(f"\nbench metadata: {ratios}")


if __name__ == "__main__":
    main()
