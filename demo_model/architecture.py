"""The demo model's parts: a small SD 1.x-shaped VAE, UNet, CLIP text encoder and scheduler."""

from __future__ import annotations

from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

IMAGE_SIZE = 128
LATENT_SIZE = IMAGE_SIZE // 8
TEXT_WIDTH = 128
MAX_TOKENS = 77

# Training and sampling share one noise schedule: v-prediction with zero terminal SNR and
# trailing timesteps, so the model cannot read the layout from signal left at the last step.
_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
    "clip_sample": False,
}


def make_vae() -> AutoencoderKL:
    """8x downsampling, 4 latent channels, no attention (flat illustrations need none)."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 32, 64, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=IMAGE_SIZE,
        mid_block_add_attention=False,
    )


def make_unet() -> UNet2DConditionModel:
    """Cross-attention at 16x16, 8x8 and 4x4 (mid block) latents; two layers per block as in
    SD 1.x, at the step time of 48/96/144 channels with one. Given the layout as clean
    vectors, it learns to place shapes from pure noise in about 250 steps."""
    return UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64, 128),
        layers_per_block=2,
        attention_head_dim=4,
        norm_num_groups=16,
        cross_attention_dim=TEXT_WIDTH,
    )


def make_text_encoder(vocab_size: int, bos: int, eos: int, pad: int) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=TEXT_WIDTH,
        intermediate_size=4 * TEXT_WIDTH,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        hidden_act="quick_gelu",
    )
    return CLIPTextModel(config)


def training_scheduler() -> DDPMScheduler:
    return DDPMScheduler(**_SCHEDULE)


def sampling_scheduler() -> DDIMScheduler:
    return DDIMScheduler(**_SCHEDULE, set_alpha_to_one=False, steps_offset=1)
