"""`atelier verify FILE...`: Atelier's watermark, the metadata's claims and the safety record.

Exit status: 0 when every file carries Atelier's watermark, 3 when one does not, 2 when
one cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_verify_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `verify` command to the `atelier` parser's subcommands."""
    verify = subparsers.add_parser(
        "verify",
        help="check files for Atelier's watermark, provenance metadata and safety record",
        description=(
            "For each file: whether Atelier's invisible watermark is present (with its "
            "confidence and payload id); every mark its metadata records, read where it "
            "lies (a repaint's new area, the marks it kept, an exported canvas's layers), "
            "and whether they agree; what its metadata claims (parameters, XMP digital "
            "source type, C2PA Content Credentials) and its safety record. Exit status 0 "
            "when every file carries the watermark, 3 when one does not, 2 when one cannot "
            "be read."
        ),
    )
    verify.add_argument("files", nargs="+", type=Path, help="images, videos or audio files")
    verify.set_defaults(handler=run_verify)
    return verify


def run_verify(args: argparse.Namespace) -> int:
    """Print a report per file; returns the exit status."""
    from plugins.provenance.report_text import format_report
    from plugins.provenance.verify import exit_code, verify_file

    reports = []
    for number, path in enumerate(args.files):
        report = verify_file(path)
        reports.append(report)
        if number:
            print()
        print(format_report(report), flush=True)
        if report.error:
            print(f"atelier: error: {report.error}", file=sys.stderr)
    return exit_code(reports)
