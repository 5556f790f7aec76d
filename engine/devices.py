"""Device policy: which accelerator and dtype to use, and which memory savers to turn on."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3
_CHOICES = {"device": ("cuda", "mps", "cpu"), "dtype": ("float16", "bfloat16", "float32")}
log = logging.getLogger(__name__)


def default_cpu_threads() -> int:
    """One fewer than the cores this process may use, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


@dataclass(frozen=True)
class DevicePolicy:
    device: str  # "cuda", "mps" or "cpu"
    dtype: str  # "float16", "bfloat16" or "float32"
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    # torch's threads for work on the CPU: one fewer than the cores, so the window (and
    # the rest of the desktop) keeps one; OpenMP's waiting threads otherwise fight the GUI
    # and anything else running for the same cores, and a small model gets 10-20x slower
    cpu_threads: int = field(default_factory=default_cpu_threads)

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def use_cpu_threads(policy: DevicePolicy) -> None:
    """Give torch the policy's CPU threads, unless OMP_NUM_THREADS was set on purpose."""
    import torch

    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(policy.cpu_threads)


def choose_device_policy(overrides: dict[str, Any] | None = None) -> DevicePolicy:
    """CUDA fp16 (bf16 where supported), MPS fp16, CPU fp32; savers from free memory.

    `overrides` (from settings) may set any DevicePolicy field by name; a value that does
    not fit its field (settings.json is edited by hand) is ignored alone, and logged.
    """
    import torch

    if torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info()
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        policy = DevicePolicy(
            "cuda",
            dtype,
            attention_slicing=free < 6 * GIB,
            vae_tiling=free < 8 * GIB,
            cpu_offload=free < 4 * GIB,
        )
    elif torch.backends.mps.is_available():
        policy = DevicePolicy("mps", "float16", attention_slicing=True)
    else:
        policy = DevicePolicy("cpu", "float32")
    if overrides:
        policy = DevicePolicy(**{**policy.__dict__, **_usable_overrides(overrides)})
    return policy


def _usable_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides naming a DevicePolicy field with a value of its kind."""
    usable = {}
    for name, value in overrides.items():
        if name not in DevicePolicy.__dataclass_fields__:
            continue
        fits = _fits(name, value)
        if fits:
            usable[name] = value
        else:
            log.warning("settings: device.%s = %.80r is not usable; ignored", name, value)
    return usable


def _fits(name: str, value: Any) -> bool:
    if name in _CHOICES:
        return value in _CHOICES[name]
    if name == "cpu_threads":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1024
    return isinstance(value, bool)


def apply_policy(model: Any, policy: DevicePolicy) -> Any:
    """Place a loaded model (a diffusers pipeline, a transformers model, a torch module) and
    switch on the memory savers it has. With CPU offload it stays on the CPU and each part
    moves to the GPU only while it runs: it is never moved to the GPU whole first."""
    offload = policy.cpu_offload and policy.device == "cuda"
    if offload and hasattr(model, "enable_model_cpu_offload"):
        model.enable_model_cpu_offload()
    else:
        model.to(policy.device)
    if policy.attention_slicing and hasattr(model, "enable_attention_slicing"):
        model.enable_attention_slicing()
    vae = getattr(model, "vae", None)
    if policy.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    return model
