"""Stage export-music: the built-in music model as a MusicGen folder, fp16.

The folder is what `MusicgenForConditionalGeneration.from_pretrained` and
`AutoProcessor.from_pretrained` load (config, weights, generation config, the T5
tokenizer and EnCodec's feature extractor), plus atelier.json (the window the decoder
was trained on and the context each continuation keeps, sampling defaults, an example)
and its model card.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    EncodecFeatureExtractor,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
    T5TokenizerFast,
)

from .control_export import write_model_folder
from .music_architecture import FRAME_RATE
from .music_pieces import RATE

ABOUT = (
    "Built-in music model: one instrument (piano, plucked guitar, flute, strings, bass or a"
    " chiptune lead) with or without drums, 60-180 bpm, major or minor, mono 16 kHz."
)
EXAMPLE_PROMPT = "a calm piano melody in A minor at 70 bpm, no drums"
MODEL_CARD = Path(__file__).with_name("MUSIC_MODEL_CARD.md")
CONTEXT_S = 2.0  # seconds of a window's codes each continuation is prompted with


def export_music_model(trained: Path, out: Path, window_s: float, log=print) -> None:
    """The trained model in fp16 with its processor, settings and card, into `out`
    (replaced whole: built beside it, then renamed)."""
    model = MusicgenForConditionalGeneration.from_pretrained(trained).to(torch.float16)
    frames = round(window_s * FRAME_RATE)
    model.generation_config.update(
        max_length=frames + model.decoder.num_codebooks,
        do_sample=True,
        guidance_scale=3.0,
        top_k=250,
        decoder_start_token_id=model.config.decoder_start_token_id,
        pad_token_id=model.config.pad_token_id,
        bos_token_id=model.config.decoder.bos_token_id,
    )
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=RATE),
        tokenizer=T5TokenizerFast.from_pretrained(trained),
    )
    settings = {
        "music": {"window_s": window_s, "context_s": min(CONTEXT_S, window_s / 2)},
        "defaults": {"guidance": 3.0, "temperature": 1.0, "top_k": 250},
        "example_prompt": EXAMPLE_PROMPT,
        "about": ABOUT,
    }
    write_model_folder(model, settings, MODEL_CARD, out, log, also=(processor,))
