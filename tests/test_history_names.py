"""The History panel's names: every one listed in app/model/history_names.py, each in the one
style ("Verb object", sentence case), and no command named anywhere else in the app."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.model import history_names

ROOT = Path(__file__).resolve().parent.parent
VERBS = {
    *("Add", "Change", "Convert", "Create", "Crop", "Cut", "Delete", "Deselect", "Duplicate"),
    "Edit",
    *("Erase", "Feather", "Fill", "Flatten", "Flip", "Generate", "Grow", "Group", "Hide"),
    *("Invert", "Merge", "Move", "Normalise", "Open", "Paint", "Paste", "Remove"),
    *("Rename", "Resize"),
    *("Rotate", "Select", "Shrink", "Show", "Split", "Transform", "Trim", "Ungroup"),
}
# "Verb object": a capitalised verb (a colon may follow it), then lower-case words, numbers
# and units; no layer names, no trailing stop, single spaces
STYLE = re.compile(r"(?P<verb>[A-Z][a-z]+):? [a-z0-9][a-z0-9\-°×]*( [a-z0-9\-°×]+)*")
# where commands are made: a string given to these is a name given outside the list
COMMAND_MAKERS = {
    *("AddLayer", "DuplicateLayer", "Macro", "PixelEdit", "SetSelection"),
    *("TransformPixels", "write_pixels"),
}


def constants() -> list[str]:
    return [
        value
        for key, value in vars(history_names).items()
        if key.isupper() and isinstance(value, str)
    ]


def every_name() -> list[str]:
    """The constants of history_names, and its name-making functions with sample values."""
    made = [
        history_names.resize_image(640, 480),
        history_names.generate("Text to image"),
        history_names.generate("Inpaint"),
        history_names.generate("Stripes"),
    ]
    made += [
        history_names.layer_properties(changed, visible)
        for changed, visible in (
            ({"name"}, None),
            ({"visible"}, True),
            ({"visible"}, False),
            ({"opacity"}, None),
            ({"blend"}, None),
            ({"opacity", "blend"}, None),
        )
    ]
    made += [
        history_names.control_settings(changed)
        for changed in (
            {"kind"},
            {"model"},
            {"strength"},
            {"start"},
            {"start", "end"},
            {"kind", "end"},
        )
    ]
    return constants() + made


@pytest.mark.parametrize("name", every_name())
def test_every_history_name_is_verb_object_in_sentence_case(name):
    match = STYLE.fullmatch(name)
    assert match, f"{name!r} is not 'Verb object' in sentence case"
    assert match["verb"] in VERBS, f"{name!r} does not start with a verb"


def test_the_names_are_distinct_and_say_what_changed():
    assert len(set(constants())) == len(constants())
    assert history_names.layer_properties({"visible"}, False) == "Hide layer"
    assert history_names.generate(" Text to image ") == "Generate: text to image"


def literal_text(node: ast.AST) -> bool:
    """A text written in place ("" is none: it asks for the command's own name)."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != ""
    )


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def names_given_outside_the_list(tree: ast.AST) -> list[int]:
    """Lines where a command gets a name written in place: a `label=` argument, a `label`
    attribute or class field, a `label` parameter's default, or a text given to a maker."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            texts = [k.value for k in node.keywords if k.arg == "label"]
            if call_name(node) in COMMAND_MAKERS:
                texts += node.args
            elif call_name(node) == "add":  # LayerActions.add(layer, name)
                texts += node.args[1:]
            lines += [t.lineno for t in texts if literal_text(t)]
        elif isinstance(node, ast.ClassDef | ast.Assign):
            assigns = node.body if isinstance(node, ast.ClassDef) else [node]
            for assign in (a for a in assigns if isinstance(a, ast.Assign)):
                lines += _labelled(assign, in_class=isinstance(node, ast.ClassDef))
        elif isinstance(node, ast.FunctionDef):
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            lines += [
                d.lineno
                for a, d in zip(args, node.args.defaults, strict=True)
                if a.arg == "label" and literal_text(d)
            ]
    return lines


def _labelled(assign: ast.Assign, in_class: bool) -> list[int]:
    pairs = []
    for target in assign.targets:
        if isinstance(target, ast.Tuple) and isinstance(assign.value, ast.Tuple):
            pairs += zip(target.elts, assign.value.elts, strict=False)
        else:
            pairs.append((target, assign.value))
    return [
        value.lineno
        for target, value in pairs
        if literal_text(value)
        and (
            (isinstance(target, ast.Attribute) and target.attr == "label")
            or (in_class and isinstance(target, ast.Name) and target.id == "label")
        )
    ]


def test_no_command_is_named_outside_the_list():
    found = []
    for folder in ("app", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "history_names.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{path.relative_to(ROOT)}:{n}" for n in names_given_outside_the_list(tree)]
    assert not found, "name these edits in app/model/history_names.py: " + ", ".join(found)
