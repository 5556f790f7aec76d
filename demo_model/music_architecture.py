"""The built-in music model's shape: a small MusicGen (EnCodec codec, T5 text encoder,
MusicGen decoder) at 16 kHz with four 1,024-entry codebooks at 25 frames a second.

`MusicSizes` holds what differs between the shipped model and the tiny one the tests
train; `build_codec` and `build_model` make random-weight models of those sizes with
transformers' own classes, so the exported folder loads like a real checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import (
    EncodecConfig,
    EncodecModel,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

from .music_pieces import RATE

HOP = 640  # samples per codec frame: 25 frames a second at 16 kHz
FRAME_RATE = RATE // HOP
CODEBOOKS = 4
CODEBOOK_SIZE = 1024


@dataclass(frozen=True)
class MusicSizes:
    codec_filters: int = 16
    codec_hidden: int = 128
    text_width: int = 128
    text_layers: int = 2
    width: int = 256
    layers: int = 4
    heads: int = 4


TINY = MusicSizes(
    codec_filters=4, codec_hidden=16, text_width=16, text_layers=1, width=32, layers=1, heads=2
)


def codec_config(sizes: MusicSizes) -> EncodecConfig:
    bits = CODEBOOK_SIZE.bit_length() - 1
    return EncodecConfig(
        sampling_rate=RATE,
        audio_channels=1,
        normalize=False,
        num_filters=sizes.codec_filters,
        hidden_size=sizes.codec_hidden,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=CODEBOOK_SIZE,
        # transformers takes the codebook count from the largest bandwidth (kbit/s)
        target_bandwidths=[CODEBOOKS * bits * FRAME_RATE / 1000],
    )


def build_codec(sizes: MusicSizes) -> EncodecModel:
    return EncodecModel(codec_config(sizes))


def build_model(
    sizes: MusicSizes, vocab_size: int, codec: EncodecModel
) -> MusicgenForConditionalGeneration:
    """A random-weight MusicGen around a trained `codec`."""
    text = T5Config(
        vocab_size=vocab_size,
        d_model=sizes.text_width,
        d_kv=sizes.text_width // 4,
        d_ff=sizes.text_width * 4,
        num_layers=sizes.text_layers,
        num_heads=4,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=CODEBOOK_SIZE,
        num_hidden_layers=sizes.layers,
        hidden_size=sizes.width,
        ffn_dim=sizes.width * 4,
        num_attention_heads=sizes.heads,
        num_codebooks=CODEBOOKS,
        audio_channels=1,
        dropout=0.0,
        pad_token_id=CODEBOOK_SIZE,
        bos_token_id=CODEBOOK_SIZE,
        max_position_embeddings=2048,
    )
    config = MusicgenConfig(text_encoder=text, audio_encoder=codec.config, decoder=decoder)
    config.decoder_start_token_id = CODEBOOK_SIZE
    config.pad_token_id = CODEBOOK_SIZE
    model = MusicgenForConditionalGeneration(config)
    model.audio_encoder.load_state_dict(codec.state_dict())
    return model
