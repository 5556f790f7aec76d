"""A verify report as text a designer can read: watermark, metadata claims, safety record."""

from __future__ import annotations

from typing import Any

from plugins.provenance.verify import Report
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
    from plugins.provenance import watermark

    found = report.watermark
    if found is None:
        return [f"not checked: {report.watermark_note or 'no detector for this file'}"]
    if not found.present:
        return [f"not found (confidence {found.confidence:.2f})"]
    line = f"present (confidence {found.confidence:.2f})"
    if found.payload is not None:
        about = watermark.describe_payload(found.payload)
        line += f", payload {found.payload:08x}: {about['app']} id {about['id']}"
    if found.bit_accuracy is not None:
        line += f", bit accuracy {found.bit_accuracy:.0%}"
    lines = [line]
    recorded = (report.provenance or {}).get("watermark", {}).get("payload")
    if recorded is not None and found.payload is not None:
        same = recorded == found.payload
        lines.append("matches the metadata" if same else f"the metadata names {recorded:08x}")
    return lines


def claim_lines(report: Report) -> list[str]:
    claims, lines = report.claims, []
    if claims.get("parameters"):
        first = claims["parameters"].splitlines()[0]
        lines.append(f"parameters: {first[:100]}")
    recipe = claims.get("recipe")
    if isinstance(recipe, dict):
        params = recipe.get("params", {})
        model = (recipe.get("model") or {}).get("name", params.get("model", "?"))
        lines.append(
            f"recipe: {recipe.get('task')} v{recipe.get('version')}, "
            f"model {model}, seed {params.get('seed')}"
        )
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
