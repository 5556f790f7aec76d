"""Watermark payload: the 32-bit layout, its CRC and the convolutional code that carries it.

Layout of the 32-bit payload (most significant bit first)::

    bits 31..24  app tag, 0xA7 for Atelier (a fixed header: a decode whose tag differs
                 is not Atelier's mark, which also cuts false positives by 2**-8)
    bits 23..20  payload layout version (1)
    bits 19..0   id, shown as 5 hex digits and recorded in the output's metadata: a hash
                 of the output's recipe, so the same recipe (task, version, params with
                 the seed, model hashes) gives the same mark and the same pixels

On the wire the 32 payload bits are followed by a CRC-16/CCITT of them, and the 48 bits
are protected by a rate-1/3, constraint-length-7 convolutional code (generators 133,
171, 165 octal, zero-terminated: 162 coded bits) decoded with soft-decision Viterbi.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np

PAYLOAD_BITS = 32
APP_TAG = 0xA7
LAYOUT_VERSION = 1
ID_BITS = 20
CRC_BITS = 16
INFO_BITS = PAYLOAD_BITS + CRC_BITS
_K = 7
_GENERATORS = (0o133, 0o171, 0o165)
CODED_BITS = (INFO_BITS + _K - 1) * len(_GENERATORS)


def new_payload() -> int:
    """A fresh payload: Atelier's tag and layout version plus a random 20-bit id."""
    return make_payload(secrets.randbits(ID_BITS))


def make_payload(random_id: int) -> int:
    """The payload carrying ``random_id`` (only its low 20 bits are kept)."""
    return (APP_TAG << 24) | (LAYOUT_VERSION << 20) | (random_id & ((1 << ID_BITS) - 1))


def recipe_payload(*recipes: Mapping[str, Any]) -> int:
    """The payload of what ``recipes`` made (an output: its recipe; a flattened canvas: the
    recipes of its generated layers). Its id is the first 20 bits of the SHA-256 of their
    tasks, versions, params (with the seed) and model hashes as canonical JSON, so making
    the same output again gives the same mark, and so the same pixels."""
    keys = [_recipe_key(recipe) for recipe in recipes]
    text = json.dumps(keys, sort_keys=True, separators=(",", ":"), default=repr)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return make_payload(int.from_bytes(digest[:4], "big") >> (32 - ID_BITS))


def _recipe_key(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """What in a recipe says how the output was made; its models by their hashes."""
    models = recipe.get("models") or [recipe.get("model")]
    return {
        "task": recipe.get("task"),
        "version": recipe.get("version"),
        "params": recipe.get("params"),
        "models": [m.get("hash") for m in models if isinstance(m, Mapping)],
    }


def is_atelier(payload: int) -> bool:
    """Whether a decoded payload carries Atelier's app tag."""
    return (payload >> 24) & 0xFF == APP_TAG


def describe_payload(payload: int) -> dict:
    """A readable account of a payload: app, layout version and id."""
    return {
        "app": "atelier" if is_atelier(payload) else f"unknown (tag 0x{payload >> 24:02x})",
        "version": (payload >> 20) & 0xF,
        "id": f"{payload & ((1 << ID_BITS) - 1):05x}",
    }


def int_to_bits(value: int, n: int) -> np.ndarray:
    """The ``n`` low bits of ``value``, most significant first, as a uint8 array."""
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def bits_to_int(bits: np.ndarray) -> int:
    """The integer whose bits (most significant first) are ``bits``."""
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def crc16(value: int, nbits: int = PAYLOAD_BITS) -> int:
    """CRC-16/CCITT (polynomial 0x1021, initial 0xFFFF) of the ``nbits`` of ``value``."""
    crc = 0xFFFF
    for i in range(nbits - 1, -1, -1):
        top = ((crc >> 15) & 1) ^ ((value >> i) & 1)
        crc = (crc << 1) & 0xFFFF
        if top:
            crc ^= 0x1021
    return crc


def _parity(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> 4)
    x = x ^ (x >> 2)
    x = x ^ (x >> 1)
    return x & 1


# Trellis tables: a transition into state ns (6 bits) from the state whose dropped bit
# was b reads the 7-bit register (b << 6) | ns; its input bit is ns & 1.
_STATES = 1 << (_K - 1)
_NS = np.arange(_STATES)
_PRED = np.stack([_NS >> 1, (_NS >> 1) | (1 << (_K - 2))], axis=1)  # (64, 2)
_REG = np.stack([_NS, _NS | (1 << (_K - 1))], axis=1)  # (64, 2)
_OUT_SIGNS = np.stack(
    [1.0 - 2.0 * _parity(_REG & g) for g in _GENERATORS], axis=-1
)  # (64, 2, 3): +1 for a coded 0, -1 for a coded 1


def encode(payload: int) -> np.ndarray:
    """The coded bits (uint8, length CODED_BITS) for a payload: payload + CRC, conv-coded."""
    info = np.concatenate(
        [int_to_bits(payload, PAYLOAD_BITS), int_to_bits(crc16(payload), CRC_BITS)]
    )
    state = 0
    out = []
    for u in np.concatenate([info, np.zeros(_K - 1, np.uint8)]):
        reg = (state << 1) | int(u)
        out.extend(int(bin(reg & g).count("1") & 1) for g in _GENERATORS)
        state = reg & (_STATES - 1)
    return np.array(out, dtype=np.uint8)


def decode(soft: np.ndarray) -> tuple[int, bool]:
    """Soft Viterbi decode (positive soft value = coded 0): (payload, CRC matches)."""
    r = np.asarray(soft, dtype=np.float64).reshape(-1, len(_GENERATORS))
    steps = r.shape[0]
    metric = np.full(_STATES, -1e18)
    metric[0] = 0.0
    choices = np.empty((steps, _STATES), dtype=np.uint8)
    for t in range(steps):
        cand = metric[_PRED] + _OUT_SIGNS @ r[t]
        best = np.argmax(cand, axis=1)
        choices[t] = best
        metric = cand[_NS, best]
    state = 0  # zero-terminated
    bits = np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = state & 1
        state = int(_PRED[state, choices[t, state]])
    payload = bits_to_int(bits[:PAYLOAD_BITS])
    crc = bits_to_int(bits[PAYLOAD_BITS:INFO_BITS])
    return payload, crc == crc16(payload)
