"""Training checkpoints (plugins.lora_training.checkpoints): a real AdamW saved and loaded
continues exactly as if never interrupted, a damaged file is one sentence naming it, and a
kill -9 in the middle of a save leaves the last good checkpoint whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from engine.file_writing import STALE_TEMP_S, TEMP_SUFFIX
from plugins.lora_training.checkpoints import META_KEY, load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int):
    batches = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=batches)
        optimizer.zero_grad()
        ((model(x) - 1) ** 2).mean().backward()
        optimizer.step()


def _same(a, b) -> bool:
    """Equal values of the same types, tensors bit for bit, all the way down."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_a_loaded_adamw_continues_exactly_like_the_uninterrupted_one(tmp_path):
    torch.manual_seed(0)
    model = _model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    _train(model, optimizer, 5, seed=1)
    info = {"step": 5, "losses": [0.9, 0.5, float("nan")], "settings": {"rank": 4}, "run": "k"}
    path = tmp_path / "run" / "checkpoint.safetensors"
    save_checkpoint(path, model.state_dict(), optimizer.state_dict(), info)
    saved_state = optimizer.state_dict()

    checkpoint = load_checkpoint(path)
    assert _same(checkpoint.optimizer, saved_state)  # int keys, tuples, None, bools kept
    assert list(checkpoint.optimizer["state"]) == [0, 1, 2, 3]
    assert checkpoint.optimizer["param_groups"][0]["betas"] == (0.9, 0.999)
    assert checkpoint.info["step"] == 5 and checkpoint.info["settings"] == {"rank": 4}
    assert checkpoint.info["losses"][:2] == [0.9, 0.5] and checkpoint.info["losses"][2] != 0.9
    assert _same(dict(sorted(checkpoint.lora.items())), dict(sorted(model.state_dict().items())))

    resumed = _model()  # initialised differently; everything comes from the checkpoint
    resumed.load_state_dict(checkpoint.lora)
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=1.0)
    resumed_optimizer.load_state_dict(checkpoint.optimizer)
    _train(model, optimizer, 5, seed=2)
    _train(resumed, resumed_optimizer, 5, seed=2)
    for kept, again in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(kept, again)


def test_no_file_is_no_checkpoint(tmp_path):
    assert load_checkpoint(tmp_path / "none.safetensors") is None


def test_what_the_optimizer_state_cannot_hold_is_refused_before_writing(tmp_path):
    path = tmp_path / "c.safetensors"
    with pytest.raises(TypeError, match="device"):
        save_checkpoint(path, {}, {"state": {}, "where": torch.device("cpu")}, {})
    assert not path.exists()


def _good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.safetensors"
    model = _model()
    optimizer = torch.optim.AdamW(model.parameters())
    _train(model, optimizer, 1, seed=0)
    save_checkpoint(path, model.state_dict(), optimizer.state_dict(), {"step": 1})
    return path


def _damaged_copies(tmp_path: Path) -> dict[str, bytes]:
    data = _good_file(tmp_path).read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    tensor = {"x": torch.zeros(2)}
    missing = {"format": 1, "info": {}, "optimizer": {"dict": [["w", {"tensor": "optim/9"}]]}}
    return {
        "truncated": data[: len(data) - 40],
        "header cut": data[: header_end // 2],
        "garbled": data[:8] + b"\x00\xff" * 20 + data[48:],
        "empty": b"",
        "plain safetensors": save(tensor),
        "bad metadata": save(tensor, metadata={META_KEY: "{not json"}),
        "missing tensor": save(tensor, metadata={META_KEY: json.dumps(missing)}),
        "unknown entry": save(tensor, metadata={META_KEY: json.dumps({**missing, "optimizer": 3})}),
    }


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "header cut",
        "garbled",
        "empty",
        "plain safetensors",
        "bad metadata",
        "missing tensor",
        "unknown entry",
    ],
)
def test_a_damaged_file_is_one_sentence_naming_it(tmp_path, damage):
    path = tmp_path / f"{damage.replace(' ', '-')}.safetensors"
    path.write_bytes(_damaged_copies(tmp_path)[damage])
    with pytest.raises(ValueError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a usable training checkpoint: ")
    assert "\n" not in message and "Traceback" not in message


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a file"):
        load_checkpoint(tmp_path)


# In the child: save checkpoint A, then start saving a large B whose write stops half way
# (the file object's write is slowed down) so that the parent can kill -9 it mid-write.
_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import torch
    from plugins.lora_training.checkpoints import save_checkpoint

    path = Path(sys.argv[1])
    save_checkpoint(path, {"a": torch.arange(6.0)}, {"state": {}, "param_groups": []},
                    {"step": 100})
    real_fdopen = os.fdopen

    class HalfThenHang:
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def fileno(self):
            return self.f.fileno()
        def flush(self):
            self.f.flush()
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            print("half written", flush=True)
            time.sleep(120)

    os.fdopen = lambda fd, mode: HalfThenHang(real_fdopen(fd, mode))
    save_checkpoint(path, {"a": torch.ones(4_000_000)}, {"state": {}, "param_groups": []},
                    {"step": 200})
    """
)


@pytest.mark.skipif(os.name != "posix", reason="kill -9 is a POSIX signal")
def test_kill_9_during_a_save_leaves_the_last_checkpoint_whole(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "half written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    (temp,) = [p for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX)]
    assert f".{child.pid}-" in temp.name and 0 < temp.stat().st_size < 16_000_000  # half of B

    last = load_checkpoint(path)
    assert last.info == {"step": 100} and torch.equal(last.lora["a"], torch.arange(6.0))

    # a minute later (what tells a crashed writer's temp from one being written), the next
    # save removes it, since its writer no longer runs
    old = time.time() - STALE_TEMP_S - 5
    os.utime(temp, (old, old))
    save_checkpoint(path, {"a": torch.full((3,), 7.0)}, {"state": {}}, {"step": 300})
    assert not temp.exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert load_checkpoint(path).info == {"step": 300}
