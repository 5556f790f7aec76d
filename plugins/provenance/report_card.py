"""A verify report as a card to lay out: a verdict with its tone, then label / value rows
(watermark, id, metadata, recipe, AI-generated tag, Content Credentials, safety), and one
row for each mark the file's record lists.

Built from the report's fields (not from its text), so the Verify panel can show each row
on its own; Qt-free, so tests read the card without a window. `atelier verify` prints the
same report as text (report_text.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugins.provenance.payload import describe_payload
from plugins.provenance.report_text import recipe_summary, safety_lines, where
from plugins.provenance.verify import AreaReading, Report
from plugins.provenance.xmp import COMPOSITE, TRAINED

GOOD, WARN, BAD, PLAIN = "good", "warn", "bad", ""  # a row's tone: how it reads at a glance
_AI_TAGS = {TRAINED: "AI-generated", COMPOSITE: "Partly AI-generated (a composite)"}
_CREDENTIALS = {
    "Trusted": ("Valid, signed by this computer's Atelier key", GOOD),
    "Valid": ("Valid, signed by someone this computer does not know", GOOD),
    "Invalid": ("Invalid: changed after signing, or the signature is broken", BAD),
}


@dataclass(frozen=True)
class Row:
    """One line of the card: what it is about, what was found, and how that reads."""

    label: str
    value: str
    tone: str = PLAIN


@dataclass(frozen=True)
class Card:
    """A file's report: its name, the verdict, the rows, and a row per recorded mark."""

    title: str
    subtitle: str
    verdict: str
    tone: str
    rows: tuple[Row, ...]
    marks: tuple[Row, ...] = ()


def report_card(report: Report) -> Card:
    """The card of one verify report."""
    title, subtitle = report.path.name, f"{report.kind or 'unknown'} in {report.path.parent}"
    if report.error:
        rows = (Row("Problem", report.error, BAD),)
        return Card(title, subtitle, "Could not be checked", BAD, rows)
    verdict, tone = _verdict(report)
    rows = (
        _watermark_row(report),
        *_id_rows(report),
        _agreement_row(report),
        _recipe_row(report),
        *_parameter_rows(report),
        _ai_tag_row(report),
        *_creator_rows(report),
        *_credential_rows(report.claims.get("c2pa") or {}),
        _safety_row(report),
    )
    marks = tuple(mark_row(reading) for reading in report.areas)
    return Card(title, subtitle, verdict, tone, rows, marks)


def _verdict(report: Report) -> tuple[str, str]:
    if not report.marked:
        return "Does not carry Atelier's watermark", WARN
    if report.agrees is False:
        return "Carries Atelier's watermark, but not as its metadata says", WARN
    return "Carries Atelier's watermark", GOOD


def _watermark_row(report: Report) -> Row:
    found = report.watermark
    if found is None:
        return Row("Watermark", f"Not checked: {report.watermark_note or 'no detector'}", WARN)
    if not found.present:
        return Row("Watermark", f"Not found (confidence {found.confidence:.2f})", WARN)
    text = f"Found, confidence {found.confidence:.2f}"
    if found.bit_accuracy is not None:
        text += f", {found.bit_accuracy:.0%} of its bits read right"
    return Row("Watermark", text, GOOD)


def _id_rows(report: Report) -> list[Row]:
    found = report.watermark
    if found is None or not found.present or found.payload is None:
        return []
    about = describe_payload(found.payload)
    return [Row("Watermark id", f"{about['id']} ({about['app']}, payload {found.payload:08x})")]


def _agreement_row(report: Report) -> Row:
    """Whether the marks read in the file are those its metadata records."""
    marks = report.marks
    if not marks:
        return Row("Metadata", "Records no watermark")
    if report.agrees is False:
        ids = ", ".join(describe_payload(p)["id"] for p in report.unrecorded)
        return Row("Metadata", f"Does not record id {ids}, found in the picture", BAD)
    recorded = f"id {marks[0].id}" if len(marks) == 1 else f"{len(marks)} marks"
    if report.agrees:
        return Row("Metadata", f"Matches the watermark: records {recorded}", GOOD)
    return Row("Metadata", f"Records {recorded}")


def mark_row(reading: AreaReading) -> Row:
    """One recorded mark: its id, what made it, where it lies and what was read there."""
    mark, found = reading.mark, reading.found
    made = f"{'new' if mark.new else 'kept'}, {mark.source or 'recorded'}"
    where_it_is = where(reading)
    if found is None:
        result, tone = "too small to read", PLAIN
    elif not found.present or found.payload is None:
        result, tone = "not found", WARN
    elif found.payload == mark.payload:
        result, tone = "found", GOOD
    else:
        result, tone = f"id {describe_payload(found.payload)['id']} found instead", BAD
    return Row(f"id {mark.id}", f"{made}; {where_it_is}: {result}", tone)


def _recipe_row(report: Report) -> Row:
    recipe = report.claims.get("recipe")
    if not isinstance(recipe, dict):
        return Row("Recipe", "None")
    return Row("Recipe", recipe_summary(recipe))


def _parameter_rows(report: Report) -> list[Row]:
    parameters = report.claims.get("parameters")
    if not parameters:
        return []
    return [Row("Parameters", parameters.splitlines()[0][:160])]


def _ai_tag_row(report: Report) -> Row:
    """What the file's tags say it is, and where they say it (XMP, the file's own tags or
    the Content Credentials)."""
    claims = report.claims
    sources = (
        ("XMP", (claims.get("xmp") or {}).get("digital_source_type")),
        ("file tags", (claims.get("tags") or {}).get("digital_source_type")),
        ("Content Credentials", (claims.get("c2pa") or {}).get("digital_source_type")),
    )
    for where_from, uri in sources:
        if uri:
            what = _AI_TAGS.get(uri, uri.rsplit("/", 1)[-1])
            return Row("AI-generated tag", f"{what} (in the {where_from})", GOOD)
    return Row("AI-generated tag", "None", WARN)


def _creator_rows(report: Report) -> list[Row]:
    xmp = report.claims.get("xmp") or {}
    if xmp.get("error"):
        return [Row("XMP", f"Unreadable: {xmp['error']}", WARN)]
    made = ", ".join(str(v) for v in (xmp.get("creator_tool"), xmp.get("create_date")) if v)
    return [Row("Made with", made)] if made else []


def _credential_rows(c2pa: dict[str, Any]) -> list[Row]:
    if c2pa.get("error"):
        return [Row("Content Credentials", f"Could not be read: {c2pa['error']}", BAD)]
    if not c2pa.get("present"):
        return [Row("Content Credentials", _sentence(c2pa.get("note", "none")))]
    state = c2pa.get("state", "Unknown")
    text, tone = _CREDENTIALS.get(state, (state, WARN))
    rows = [Row("Content Credentials", text, tone)]
    actions = ", ".join(a for a in c2pa.get("actions", []) if a)
    if actions:
        rows.append(Row("Actions", actions))
    rows.append(Row("Signed by", c2pa.get("signer") or "?"))
    if c2pa.get("failures"):
        rows.append(Row("Failures", ", ".join(c2pa["failures"]), BAD))
    return rows


def _safety_row(report: Report) -> Row:
    safety = (report.provenance or {}).get("safety")
    lines = safety_lines(report)
    if not safety:
        return Row("Safety", "No safety record")
    output = safety.get("output") or {}
    prompt = safety.get("prompt") or {}
    flagged = bool(prompt.get("matched")) or bool(output.get("reasons"))
    text = "\n".join(_sentence(line) for line in lines)
    return Row("Safety", text, WARN if flagged else GOOD)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
