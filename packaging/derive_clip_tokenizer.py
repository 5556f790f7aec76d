"""Derive Hugging Face CLIPTokenizer files (vocab.json, merges.txt) from CLIP's BPE vocabulary.

The CLIP BPE vocabulary `bpe_simple_vocab_16e6.txt.gz` ships inside the `open_clip`
package; this script rebuilds the exact token table of CLIP's SimpleTokenizer from it,
so Atelier can ship tokenizer files without fetching anything from the hub.

Usage: python packaging/derive_clip_tokenizer.py [--bpe PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
from pathlib import Path

BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"
N_MERGES = 49152 - 256 - 2  # CLIP keeps lines[1 : 49152 - 256 - 2 + 1]
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resources" / "tokenizers" / "clip"


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible map from bytes to printable unicode characters."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def find_bpe_file() -> Path:
    """The BPE file inside the installed open_clip package (found without importing it)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"open_clip is not installed; pass --bpe PATH to {BPE_NAME}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BPE_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(f"{BPE_NAME} not found in the open_clip package")


def derive(bpe_path: Path) -> tuple[dict[str, int], list[str]]:
    """The vocabulary (token -> id, 49408 entries) and the merge lines, as CLIP builds them."""
    with gzip.open(bpe_path) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    tokens += ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError("duplicate tokens in the derived vocabulary")
    return vocab, [" ".join(m) for m in merges]


def write(vocab: dict[str, int], merges: list[str], out: Path) -> None:
    """Write vocab.json and merges.txt in the format CLIPTokenizer.from_pretrained reads."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpe", type=Path, help=f"path to {BPE_NAME} (default: from open_clip)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    vocab, merges = derive(args.bpe or find_bpe_file())
    write(vocab, merges, args.out)
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {args.out}")


if __name__ == "__main__":
    main()
