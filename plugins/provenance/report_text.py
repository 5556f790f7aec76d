"""A verify report as text a designer can read: watermark, metadata claims, safety record."""

from __future__ import annotations

from typing import Any

from plugins.provenance.mark_areas import Mark, bounding_box
from plugins.provenance.verify import AreaReading, Report
from plugins.provenance.xmp import COMPOSITE, TRAINED

_SOURCE_TYPES = {
    TRAINED: "trainedAlgorithmicMedia",
    COMPOSITE: "compositeWithTrainedAlgorithmicMedia",
}
_C2PA_STATES = {
    "Trusted": "valid, signed by this computer's Atelier key",
    "Valid": "valid signature, by a signer this computer does not know",
    "Invalid": "INVALID: the file was changed after signing, or the signature is broken",
}


def _rows(label: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    return [f"{label + ':':<11} {lines[0]}"] + [f"{'':<11} {line}" for line in lines[1:]]


def _source(uri: str | None) -> str:
    return _SOURCE_TYPES.get(uri or "", uri or "(none)")


def watermark_lines(report: Report) -> list[str]:
    """Whether the mark is in the file, then each recorded mark read where it lies, and
    whether what was read agrees with the metadata."""
    from plugins.provenance import watermark

    found = report.watermark
    if found is None:
        return [f"not checked: {report.watermark_note or 'no detector for this file'}"]
    if not found.present:
        line = f"not found (confidence {found.confidence:.2f})"
    else:
        line = f"present (confidence {found.confidence:.2f})"
        if found.payload is not None:
            about = watermark.describe_payload(found.payload)
            line += f", payload {found.payload:08x}: {about['app']} id {about['id']}"
        if found.bit_accuracy is not None:
            line += f", bit accuracy {found.bit_accuracy:.0%}"
    lines = [line]
    if len(report.marks) == 1 and not report.areas:
        recorded = report.marks[0].payload
        if found.present and found.payload is not None:
            same = recorded == found.payload
            lines.append("matches the metadata" if same else f"the metadata names {recorded:08x}")
        return lines
    if report.marks:
        lines.append(_recorded_line(report.marks))
        lines += [f"  {area_line(reading, report)}" for reading in report.areas]
    if report.agrees is True:
        lines.append("matches the metadata: every mark found is one it records")
    elif report.agrees is False:
        ids = ", ".join(watermark.describe_payload(p)["id"] for p in report.unrecorded)
        lines.append(f"does NOT match the metadata: it does not record id {ids}")
    return lines


def _recorded_line(marks: list[Mark]) -> str:
    new = sum(mark.new for mark in marks)
    count = f"{len(marks)} mark{'s' if len(marks) != 1 else ''}"
    return f"the metadata records {count}" + (f", {new} of them new:" if new else ":")


def area_line(reading: AreaReading, report: Report) -> str:
    """One recorded mark: what it is, where it lies, and what was read there."""
    from plugins.provenance import watermark

    mark = reading.mark
    what = f"{'new, ' if mark.new else ''}{mark.source or 'recorded'}"
    line = f"id {mark.id} ({what}), {where(reading)}: "
    found = reading.found
    if found is None:
        return line + "too small to read"
    if not found.present or found.payload is None:
        return line + "not found"
    if found.payload == mark.payload:
        return line + "found"
    other = watermark.describe_payload(found.payload)["id"]
    also = "also recorded" if found.payload not in report.unrecorded else "NOT recorded"
    return line + f"found id {other} instead ({also})"


def where(reading: AreaReading) -> str:
    """Where a recorded mark lies, in words: a box, boxes, the rest or the whole picture."""
    boxes = reading.mark.boxes
    if boxes is None:
        return "the rest of the picture" if reading.skip else "the whole picture"
    if not boxes:
        return "no area"
    x, y, w, h = bounding_box(boxes)
    box = f"{w} x {h} at {x},{y}"
    return f"in {box}" if len(boxes) == 1 else f"in {len(boxes)} boxes within {box}"


def claim_lines(report: Report) -> list[str]:
    claims, lines = report.claims, []
    if claims.get("parameters"):
        first = claims["parameters"].splitlines()[0]
        lines.append(f"parameters: {first[:100]}")
    recipe = claims.get("recipe")
    if isinstance(recipe, dict):
        lines.append(f"recipe: {recipe_summary(recipe)}")
        prompt = (recipe.get("params") or {}).get("prompt")
        if prompt and not claims.get("parameters"):  # the parameters' first line is it
            lines.append(f"prompt: {' '.join(str(prompt).split())[:100]}")
    xmp = claims.get("xmp")
    if xmp:
        if xmp.get("error"):
            lines.append(f"XMP: unreadable ({xmp['error']})")
        else:
            lines.append(f"XMP: digital source type {_source(xmp.get('digital_source_type'))}")
            lines.append(f"     by {xmp.get('creator_tool')}, {xmp.get('create_date')}")
    else:
        lines.append("XMP: none")
    if claims.get("tags"):
        lines.append(f"tags: digital source type {_source(claims['tags']['digital_source_type'])}")
    lines += c2pa_lines(claims.get("c2pa") or {})
    return lines


def recipe_summary(recipe: dict[str, Any]) -> str:
    """The task, model and seed of a recipe, and a sound's duration."""
    params = recipe.get("params") or {}
    model = (recipe.get("model") or {}).get("name") or params.get("model") or "?"
    text = (
        f"{recipe.get('task')} v{recipe.get('version')}, model {model}, seed {params.get('seed')}"
    )
    duration = params.get("duration")
    return text + (f", duration {duration:g} s" if isinstance(duration, int | float) else "")


def c2pa_lines(c2pa: dict[str, Any]) -> list[str]:
    if c2pa.get("error"):
        return [f"C2PA: could not be read ({c2pa['error']})"]
    if not c2pa.get("present"):
        return ["C2PA: no manifest"]
    state = c2pa.get("state", "Unknown")
    lines = [f"C2PA: {_C2PA_STATES.get(state, state)}"]
    lines.append(
        f"      {', '.join(a for a in c2pa.get('actions', []) if a) or 'no actions'}; "
        f"digital source type {_source(c2pa.get('digital_source_type'))}; "
        f"signer {c2pa.get('signer') or '?'}"
    )
    if c2pa.get("failures"):
        lines.append(f"      failures: {', '.join(c2pa['failures'])}")
    return lines


def safety_lines(report: Report) -> list[str]:
    safety = (report.provenance or {}).get("safety")
    if not safety:
        return ["no safety record"]
    lines = []
    prompt = safety.get("prompt")
    if prompt:
        matched = prompt.get("matched") or []
        names = ", ".join(m.get("title", m.get("category", "?")) for m in matched)
        verdict = f"matched {names}" if matched else "passed"
        lines.append(f"prompt check ({prompt.get('level')}): {verdict}")
    output = safety.get("output") or {}
    if not output.get("checked"):
        lines.append(f"output check: not run ({output.get('reason', 'unknown')})")
    else:
        found = "; ".join(output.get("reasons", [])) or "nothing flagged"
        checkers = ", ".join(output.get("checkers", []))
        lines.append(
            f"output check ({output.get('policy')}, {checkers}): {found}; "
            f"action: {output.get('action')}"
        )
    return lines


def format_report(report: Report) -> str:
    """The report as aligned lines, one topic a row."""
    lines = [f"== {report.path} ({report.kind or 'unknown'})"]
    if report.error:
        return "\n".join(lines + _rows("Error", [report.error]))
    lines += _rows("Watermark", watermark_lines(report))
    lines += _rows("Metadata", claim_lines(report))
    lines += _rows("Safety", safety_lines(report))
    verdict = (
        "carries Atelier's watermark" if report.marked else "does NOT carry Atelier's watermark"
    )
    lines += _rows("Verdict", [verdict])
    return "\n".join(lines)
