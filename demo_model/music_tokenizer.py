"""A T5 tokenizer for the built-in music model, made with the `tokenizers` library.

Real MusicGen checkpoints carry T5's 32,000-piece sentencepiece vocabulary; the built-in
model's captions use a few hundred words, so a Unigram model (T5's kind) is trained on
them here, with T5's special tokens in T5's places (pad 0, end 1, unknown 2) and the end
token appended as T5 does. Words never seen still split into smaller pieces.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import UnigramTrainer
from transformers import T5TokenizerFast

SPECIAL = ("<pad>", "</s>", "<unk>")


def build_tokenizer(texts: Iterable[str], vocab_size: int = 400) -> T5TokenizerFast:
    """A T5TokenizerFast trained on `texts`; `save_pretrained` writes a folder that
    `AutoTokenizer` and `MusicgenProcessor` load offline."""
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL), unk_token="<unk>")
    tokenizer.train_from_iterator(texts, trainer)
    end = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", end)]
    )
    return T5TokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_ids=0,
        additional_special_tokens=[],
    )
