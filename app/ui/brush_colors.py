"""The foreground and background colours, remembered across restarts in settings.json
("brush_colors": {"foreground": [r, g, b], "background": [r, g, b]}).

A value that is not three integers 0..255 is passed over (the default stays); a settings
file that cannot be written only costs the memory (logged), never the painting.
"""

from __future__ import annotations

from typing import Any

from app.ui.tool_base import ToolSettings
from engine.home import load_settings, remember_setting

KEY = "brush_colors"

RGB = tuple[int, int, int]


def _rgb(value: Any) -> RGB | None:
    """`value` as an RGB triple, or None where it is not three integers 0..255."""
    if not isinstance(value, list) or len(value) != 3:
        return None
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
        return None
    return (value[0], value[1], value[2])


def restore_colors(settings: ToolSettings) -> None:
    """Set `settings`' foreground and background to the remembered ones, where usable."""
    saved = load_settings().get(KEY)
    if not isinstance(saved, dict):
        return
    foreground, background = _rgb(saved.get("foreground")), _rgb(saved.get("background"))
    if foreground is not None:
        settings.color = foreground
    if background is not None:
        settings.background = background


def remember_colors(settings: ToolSettings) -> None:
    """Keep `settings`' foreground and background for the next start."""
    colors = {"foreground": list(settings.color), "background": list(settings.background)}
    remember_setting(KEY, colors)
