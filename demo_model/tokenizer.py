"""A CLIP tokenizer pruned to the words the demo model's captions use.

Every caption word is replayed through CLIP's byte-pair merges; only the merges used and
the 512 single-character tokens are kept, so caption text splits into exactly the same
tokens as with the full 49,408-token vocabulary while the text encoder's embedding table
shrinks from 49,408 rows to about a thousand. Unknown words still tokenize (into smaller
pieces), since every single character stays in the vocabulary.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import regex

from engine.home import RESOURCES

from .captions import describe
from .scenes import random_scene

FULL_TOKENIZER = RESOURCES / "tokenizers" / "clip"
SPECIAL = ("<|startoftext|>", "<|endoftext|>")
_WORDS = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", regex.I)
_BASE_TOKENS = 512  # 256 byte symbols, then the same 256 with the end-of-word mark


def _byte_symbols() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def caption_words(count: int = 20000, seed: int = 0) -> set[str]:
    """Every word of `count` seeded captions, lower-cased as CLIP's tokenizer does."""
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    for _ in range(count):
        words.update(_WORDS.findall(describe(random_scene(rng), rng).text.lower()))
    return words


def _used_merges(words: Iterable[str], ranks: dict[tuple[str, str], int]) -> set[int]:
    """Ranks of every merge CLIP's BPE applies while splitting `words`."""
    table = _byte_symbols()
    used: set[int] = set()
    for word in words:
        symbols = [table[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"
        while len(symbols) > 1:
            neighbours = zip(symbols, symbols[1:], strict=False)
            rank, index = min((ranks.get(p, 1 << 30), i) for i, p in enumerate(neighbours))
            if rank == 1 << 30:
                break
            used.add(rank)
            symbols[index : index + 2] = [symbols[index] + symbols[index + 1]]
    return used


def write_pruned_tokenizer(out: Path, words: Iterable[str], source: Path = FULL_TOKENIZER) -> int:
    """Write vocab.json, merges.txt and the tokenizer config into `out`; returns vocab size."""
    vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
    lines = (source / "merges.txt").read_text(encoding="utf-8").splitlines()
    header, merges = lines[:1], [tuple(m.split()) for m in lines[1:] if m]
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    kept = [merges[r] for r in sorted(_used_merges(words, ranks))]
    by_id = sorted(vocab, key=vocab.get)
    tokens = by_id[:_BASE_TOKENS] + ["".join(pair) for pair in kept] + list(SPECIAL)
    out.mkdir(parents=True, exist_ok=True)
    new_vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (out / "vocab.json").write_text(json.dumps(new_vocab, ensure_ascii=False), encoding="utf-8")
    merges_text = "\n".join([*header, *(" ".join(p) for p in kept)]) + "\n"
    (out / "merges.txt").write_text(merges_text, encoding="utf-8")
    template = RESOURCES / "configs" / "sd15" / "tokenizer"
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(template / name, out / name)
    return len(new_vocab)


def build(out: Path) -> int:
    """The pruned tokenizer for the demo model's caption grammar."""
    return write_pruned_tokenizer(out, caption_words())
