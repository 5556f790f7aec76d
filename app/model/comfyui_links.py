"""Following a ComfyUI graph's links to the values behind them, within a budget.

An input of a node is a value or a link [node id, output slot]. A link may lead to a
primitive or text node (core or custom: "PrimitiveNode", "CR Prompt Text", "String
Literal", "ShowText|pysssss"...), to a switch that picks one of its inputs ("CR Text
Input Switch", "ImpactSwitch", "Switch any"), to a concatenation, or to a resolution
selector whose size is a string ("1024 x 1024  (square)", "1:1 square 1024x1024").
`Links` resolves them generically, by input names, and counts every node it visits
against one budget for the whole graph: cycles and diamond-shaped chains of links end
when it is spent, with None, never a hang.
"""

from __future__ import annotations

import re
from typing import Any

from app.model.comfyui_workflow import SEED_CONTROLS, Graph

MAX_VISITS = 50_000  # node visits for one graph, all look-ups together
MAX_DEPTH = 64  # links followed from one input
MAX_TEXT = 100_000  # characters of a concatenation

_TEXT_KEYS = ("text", "text_g", "t5xxl", "string", "prompt", "value", "Text", "STRING")
_TEXT_KEYS += ("text_positive", "positive", "user_prompt", "clip_l", "wildcard_text")
_TEXT_KEYS += ("text_negative", "negative")
_NUMBER_KEYS = ("value", "int", "float", "number", "Value", "INT", "FLOAT")
_NUMBER_KEYS += ("seed", "noise_seed", "steps", "cfg")
_SELECTORS = ("Input", "select", "index", "input", "selected", "choice")
_SIZE_KEYS = ("dimensions", "resolution", "aspect_ratio", "size", "preset", "ratio")
_SIZE = re.compile(r"(\d{2,5})\s*[x×*]\s*(\d{2,5})")
_NUMBERED = re.compile(r"^(\D*?)_?0*(\d+)$")
_PARTS = re.compile(r"^(text|string|part|prompt|input|str|t)_?([a-d]|\d+)$", re.IGNORECASE)
_JOINS = re.compile(r"concat|join|combine|merge", re.IGNORECASE)
_DELIMITERS = ("delimiter", "separator", "joiner", "join_with")
_NONE = object()
NOT_A_SWITCH = _NONE  # what `Links.switch` gives for a node that is not a switch


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
    )


class Links:
    """Look-ups in one graph, sharing one budget of node visits."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.visits = 0
        self.nesting = 0  # look-ups inside look-ups (a switch's selector, a text part)

    def charge(self, work: int) -> None:
        """Count work done on a node's inputs (a node may have many) against the budget."""
        self.visits += work

    def _enter(self) -> bool:
        """False when look-ups nest too deeply to go on (a chain of switches whose
        selectors are switches...); else counts one level, left with `_leave`."""
        if self.nesting >= MAX_DEPTH:
            return False
        self.nesting += 1
        return True

    def _leave(self) -> None:
        self.nesting -= 1

    def node(self, value: Any) -> dict[str, Any] | None:
        """The node a link leads to (None for a value, a dangling link or a spent budget)."""
        if not is_link(value) or self.visits >= MAX_VISITS:
            return None
        self.visits += 1
        node = self.graph.get(str(value[0]))
        return node if node and isinstance(node.get("inputs"), dict) else None

    def node_id(self, value: Any) -> str | None:
        return str(value[0]) if self.node(value) is not None else None

    # ---- scalars -----------------------------------------------------------------------

    def number(self, value: Any, name: str = "") -> Any:
        """A number input's value, following links to primitives, switches and nodes
        that have an input of the same name (a seed node's "seed")."""
        keys = (name, *_NUMBER_KEYS) if name else _NUMBER_KEYS
        for _ in range(MAX_DEPTH):
            node = self.node(value)
            if node is None:
                return None if is_link(value) else value
            inputs = node["inputs"]
            chosen = self.switch(node)
            if chosen is not _NONE:
                value = chosen
                continue
            value = next((inputs[k] for k in keys if k in inputs), _NONE)
            if value is _NONE:
                value = _first_widget(node, lambda v: isinstance(v, int | float))
        return None

    def text(self, value: Any, slot_hint: str = "") -> str | None:
        """A text input's value: a string, or the text of the node(s) a link leads to;
        `slot_hint` names the input to try first on a node with several texts."""
        return self._text(value, 0, slot_hint, frozenset())

    def _text(self, value: Any, depth: int, hint: str, path: frozenset[str]) -> str | None:
        """`path`: the nodes whose text is being made (a concatenation of itself ends)."""
        for _ in range(MAX_DEPTH - depth):
            if isinstance(value, str):
                return value
            node = self.node(value)
            if node is None or str(value[0]) in path:
                return None
            path = path | {str(value[0])}
            depth += 1
            inputs = node["inputs"]
            chosen = self.switch(node)
            if chosen is not _NONE:
                value = chosen
                continue
            joined = self._concatenation(node, depth, path)
            if joined is not None:
                return joined
            if not hint and value[1] == 1 and any("negative" in k for k in inputs):
                hint = next(k for k in inputs if "negative" in k)  # a styler's second output
            keys = (hint, *_TEXT_KEYS) if hint else _TEXT_KEYS  # an Efficient Loader's "negative"
            found = next((inputs[k] for k in keys if k in inputs), _NONE)
            if found is _NONE:
                found = _first_widget(node, lambda v: isinstance(v, str) and v not in SEED_CONTROLS)
            if found is _NONE:
                linked = [v for v in inputs.values() if is_link(v)]
                found = linked[0] if len(linked) == 1 else _NONE  # a Reroute, a show-text node
            if found is _NONE:
                return None
            value = found
        return None

    def _concatenation(self, node: dict[str, Any], depth: int, path: frozenset[str]) -> str | None:
        """The joined text of a node with two or more text parts (text_a, string_b,
        text1, part2...) and a delimiter or a name that says it joins; None when it is
        not one (WAS' "Text String" has text_b... as outputs of their own)."""
        inputs = node["inputs"]
        self.charge(len(inputs))
        joins = any(k in inputs for k in _DELIMITERS) or _JOINS.search(node["class_type"])
        if not joins:
            return None
        parts = sorted(
            (key for key in inputs if _PARTS.match(key)),
            key=lambda key: (len(key), key),
        )
        if len(parts) < 2:
            return None
        if not self._enter():
            return ""
        try:
            delimiter = next((inputs[k] for k in _DELIMITERS if isinstance(inputs.get(k), str)), "")
            texts = [self._text(inputs[key], depth, "", path) for key in parts]
        finally:
            self._leave()
        return delimiter.join(t for t in texts if t)[:MAX_TEXT]

    def switch(self, node: dict[str, Any]) -> Any:
        """The input a switch node passes on, or NOT_A_SWITCH when the node is not a
        switch (None when it is one but what it picks cannot be told)."""
        if not self._enter():
            return None
        try:
            return self._switch(node)
        finally:
            self._leave()

    def _switch(self, node: dict[str, Any]) -> Any:
        inputs = node["inputs"]
        self.charge(len(inputs))
        if "on_true" in inputs or "on_false" in inputs:
            flag = self.number(inputs.get("boolean", inputs.get("value")))
            return inputs.get("on_true" if flag else "on_false")
        selector = next((k for k in _SELECTORS if k in inputs), None)
        if selector is not None:
            index = self.number(inputs[selector])
            numbered = {
                int(m[2]): key
                for key in inputs
                if key != selector and (m := _NUMBERED.match(key)) and len(m[2]) < 6
            }
            if isinstance(index, int | float) and not isinstance(index, bool) and numbered:
                key = numbered.get(int(index))
                return inputs.get(key) if key else None
        if "Any Switch" in node["class_type"] or node["class_type"].startswith("Switch any"):
            return next((inputs[k] for k in sorted(inputs) if is_link(inputs[k])), None)
        return _NONE

    # ---- sizes -------------------------------------------------------------------------

    def dimension(self, value: Any, axis: int) -> int | None:
        """A width (axis 0) or height (1): a number, or followed to a primitive or a
        resolution selector (its size string wins over its own width/height widgets,
        which it uses only for "custom")."""
        name = ("width", "height")[axis]
        for _ in range(MAX_DEPTH):
            node = self.node(value)
            if node is None:
                return _as_size(None if is_link(value) else value)
            chosen = self.switch(node)
            if chosen is not _NONE:
                value = chosen
                continue
            size = self.size_string(node)
            if size is not None:
                return size[axis]
            inputs = node["inputs"]
            keys = (name, f"empty_latent_{name}", *_NUMBER_KEYS)
            value = next((inputs[k] for k in keys if k in inputs), None)
        return None

    def size_string(self, node: dict[str, Any]) -> tuple[int, int] | None:
        """The size a selector's string names, swapped when its swap switch is on."""
        inputs = node["inputs"]
        for key in _SIZE_KEYS:
            if key not in inputs or not self._enter():
                continue
            try:
                text = self.text(inputs[key])
            finally:
                self._leave()
            match = _SIZE.search(text) if isinstance(text, str) else None
            if match:
                width, height = int(match[1]), int(match[2])
                swap = inputs.get("swap_dimensions")
                if swap is True or (isinstance(swap, str) and swap.lower() in ("on", "true")):
                    width, height = height, width
                return width, height
        return None

    def size(self, node: dict[str, Any]) -> tuple[int, int] | None:
        """The size of a latent source node: its size string, or its width and height."""
        size = self.size_string(node)
        if size is not None:
            return size
        inputs = node["inputs"]
        for prefix in ("", "empty_latent_"):
            if f"{prefix}width" in inputs and f"{prefix}height" in inputs:
                width = self.dimension(inputs[f"{prefix}width"], 0)
                height = self.dimension(inputs[f"{prefix}height"], 1)
                if width and height:
                    return width, height
        return None


def _as_size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 < value < 1_000_000 and float(value).is_integer() else None


def _first_widget(node: dict[str, Any], accept: Any) -> Any:
    """The first widget value of a UI workflow node whose widgets have no known names."""
    return next((v for v in _flat(node.get("widgets") or []) if accept(v)), _NONE)


def _flat(values: list[Any]) -> list[Any]:
    """Widget values with one level of lists opened (a show-text node holds [["text"]]),
    the first 1000 of them."""
    out: list[Any] = []
    for value in values[:1000]:
        out.extend(value[: 1000 - len(out)] if isinstance(value, list) else [value])
        if len(out) >= 1000:
            break
    return out
