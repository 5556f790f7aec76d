"""Device policy: which accelerator and dtype to use, and which memory savers to turn on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class DevicePolicy:
    device: str  # "cuda", "mps" or "cpu"
    dtype: str  # "float16", "bfloat16" or "float32"
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def choose_device_policy(overrides: dict[str, Any] | None = None) -> DevicePolicy:
    """CUDA fp16 (bf16 where supported), MPS fp16, CPU fp32; savers from free memory.

    `overrides` (from settings) may set any DevicePolicy field by name.
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
        known = {k: v for k, v in overrides.items() if k in DevicePolicy.__dataclass_fields__}
        policy = DevicePolicy(**{**policy.__dict__, **known})
    return policy


def apply_policy(pipe: Any, policy: DevicePolicy) -> Any:
    """Move a diffusers pipeline to the device and switch on the chosen memory savers."""
    if policy.cpu_offload and policy.device == "cuda":
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(policy.device)
    if policy.attention_slicing:
        pipe.enable_attention_slicing()
    if policy.vae_tiling and hasattr(pipe, "vae"):
        pipe.vae.enable_tiling()
    return pipe
