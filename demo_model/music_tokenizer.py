"""A T5 tokenizer for the built-in music model, made with the `tokenizers` library.

Real MusicGen checkpoints carry T5's 32,000-piece sentencepiece vocabulary; the built-in
model's captions use about a hundred words, so a Unigram model (T5's kind) is built on
them here: every caption word is one piece scored by its frequency, and every printable
character is a piece too, scored far lower, so a word never seen still splits (into
letters). Like T5's it is case-sensitive, and its special tokens sit in T5's places
(pad 0, end 1, unknown 2) with the end token appended; transformers' T5 tokenizer wraps
it, so a saved folder loads back the same way a real checkpoint's does.
"""

from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Iterable

from transformers import T5TokenizerFast

SPECIAL = ("<pad>", "</s>", "<unk>")
MARK = "\u2581"  # sentencepiece's word-start mark
_TRAILING = ",.;:!?"  # split off a word, so "minor," is "minor" then ","
_LETTER_SCORE = -30.0  # far below any word, so known words stay whole


def build_tokenizer(texts: Iterable[str]) -> T5TokenizerFast:
    """A T5 tokenizer whose pieces are the words of `texts`; `save_pretrained` writes a
    folder that `AutoTokenizer` and `MusicgenProcessor` load offline."""
    words = Counter(word.rstrip(_TRAILING) for text in texts for word in text.split())
    del words[""]
    total = sum(words.values())
    pieces = [(token, 0.0) for token in SPECIAL]
    pieces += [(MARK + word, math.log(count / total)) for word, count in words.most_common()]
    known = {piece for piece, _ in pieces}
    letters = [MARK, *string.ascii_letters, *string.digits, *string.punctuation]
    pieces += [(c, _LETTER_SCORE) for c in letters if c not in known]
    return T5TokenizerFast(vocab=pieces, extra_ids=0, additional_special_tokens=[])
