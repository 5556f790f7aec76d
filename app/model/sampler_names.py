"""Sampler names of other generators (A1111, ComfyUI, InvokeAI, Fooocus, NovelAI, k-diffusion)
mapped to Atelier's scheduler names."""

from __future__ import annotations

import re

# Normalised sampler names (see _normalise) -> Atelier's names (plugins.diffusion.schedulers).
_ATELIER = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "dpmpp_2m": "DPM++ 2M",
    "ddim": "DDIM",
    "unipc": "UniPC",
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
    "lcm": "LCM",
}
# Suffixes that say the Karras noise schedule: A1111 "... Karras", InvokeAI "dpmpp_2m_k",
# the old A1111 alias "k_dpmpp_2m_ka".
_KARRAS_SUFFIXES = ("_karras", "_ka", "_k")
_PREFIXES = ("sample_", "k_")  # k-diffusion's function names and the old k_ aliases
_MAX_NAME = 200


def _normalise(name: str) -> tuple[str, bool]:
    """A sampler name in one spelling ("Euler Ancestral Karras", "sample_dpmpp_2m",
    "k_euler_a", "dpmpp_2m_sde_gpu"), and whether it names the Karras schedule."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower()).replace("++", "pp")
    for prefix in _PREFIXES:
        key = key.removeprefix(prefix)
    key = key.removesuffix("_gpu")  # Fooocus' GPU variants are the same sampler
    karras = False
    for suffix in _KARRAS_SUFFIXES:
        if key.endswith(suffix):
            key, karras = key.removesuffix(suffix), True
            break
    return key.replace("ancestral", "a"), karras


def atelier_scheduler(sampler: str, schedule: str = "") -> tuple[str, str | None]:
    """Atelier's name for another tool's sampler and schedule type, plus the schedule type
    when it could not be folded into the name; an unknown sampler comes back verbatim."""
    sampler, schedule = sampler.strip()[:_MAX_NAME], schedule.strip()[:_MAX_NAME]
    key, karras = _normalise(sampler)
    name = _ATELIER.get(key)
    if name is None:
        return sampler, schedule or None
    if karras and not schedule:
        schedule = "Karras"
    if name == "DPM++ 2M" and schedule.lower() == "karras":
        return "DPM++ 2M Karras", None
    return name, schedule or None
