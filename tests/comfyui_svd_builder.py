"""Build the tiny Stable Video Diffusion checkpoint for the ComfyUI test server, inside the
server's own venv (run by tests.comfyui_server.tiny_svd_checkpoint, not by pytest):

    python tests/comfyui_svd_builder.py COMFYUI_DIR SD_CHECKPOINT OUT

ComfyUI recognises SVD only by its UNet's exact shape (4 levels of 2 blocks, attention in
the first 3, 8 input channels, a 1024-wide context, 768 added inputs, temporal blocks) and
reads the OpenCLIP ViT-H image encoder, whose size its config fixes, from the same file.
So the UNet is ComfyUI's own video UNet with 320 channels at every level instead of SVD's
growing ones, the image encoder is full size, and the VAE is the tiny SD checkpoint's: all
random (seeded), in fp16, about 1.9 GB. It checks that ComfyUI detects the file as SVD.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STD = 0.02  # the random weights' spread: small enough to keep activations finite
UNET = {  # model_detection.detect_unet_config's answer for the file written here
    "use_checkpoint": False,
    "image_size": 32,
    "use_spatial_transformer": True,
    "legacy": False,
    "num_classes": "sequential",
    "adm_in_channels": 768,
    "in_channels": 8,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "transformer_depth_output": [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    "channel_mult": [1, 1, 1, 1],
    "transformer_depth_middle": 1,
    "use_linear_in_transformer": True,
    "context_dim": 1024,
    "extra_ff_mix_layer": True,
    "use_spatial_context": True,
    "merge_strategy": "learned_with_images",
    "merge_factor": 0.0,
    "video_kernel_size": [3, 1, 1],
    "use_temporal_resblock": True,
    "use_temporal_attention": True,
}


def randomised(module, torch) -> dict:
    """The module's tensors, random (norm scales 1, biases and merge factors 0), fp16."""
    state = {}
    for name, value in module.state_dict().items():
        if name.endswith("bias") or "mix_factor" in name:
            made = torch.zeros(value.shape)
        elif value.dim() == 1 and name.endswith("weight"):
            made = torch.ones(value.shape)
        else:
            made = torch.randn(value.shape) * STD
        state[name] = made.half()
    return state


def main(comfyui_dir: str, sd_checkpoint: str, out: str) -> None:
    sys.argv = [sys.argv[0], "--cpu"]  # ComfyUI reads its command line at import
    sys.path.insert(0, comfyui_dir)
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.clip_model
    import comfy.model_base
    import comfy.model_detection
    import comfy.ops
    import comfy.supported_models
    import torch
    from safetensors.torch import load_file, save_file

    torch.manual_seed(2)
    svd = comfy.supported_models.SVD_img2vid
    unet = comfy.model_base.SVD_img2vid(svd(dict(UNET)), device="cpu").diffusion_model
    state = {f"model.diffusion_model.{k}": v for k, v in randomised(unet, torch).items()}
    config = json.loads((Path(comfyui_dir) / "comfy" / "clip_vision_config_h.json").read_text())
    vision = comfy.clip_model.CLIPVisionModelProjection(
        config, torch.float32, "cpu", comfy.ops.manual_cast
    )
    state.update({svd.clip_vision_prefix + k: v for k, v in randomised(vision, torch).items()})
    vae = load_file(sd_checkpoint)
    state.update({k: v for k, v in vae.items() if k.startswith("first_stage_model.")})
    detected = comfy.model_detection.model_config_from_unet(state, "model.diffusion_model.")
    if not isinstance(detected, svd):
        raise SystemExit(f"ComfyUI does not read the built file as SVD but as {detected!r}")
    save_file(state, out, metadata={"atelier": "tiny ComfyUI test SVD"})


if __name__ == "__main__":
    main(*sys.argv[1:4])
