"""A server's copy of a local model under another name, found by the tensor hash its
metadata records (plugins.comfyui.model_copies): offline with a recorded client, and on a
real ComfyUI server whose LoRA folder holds Atelier's LoRA renamed, in a subfolder, with
other metadata. The real-server test skips, with the reason, where the server is not
installed (packaging/install-comfyui; CI installs it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished, ModelData
from engine.weights_hash import hash_metadata, tensor_hash
from plugins.comfyui import server_info
from plugins.comfyui.graphs import Unsupported, plan
from plugins.comfyui.model_copies import CopyFinder
from plugins.comfyui.server_engine import ServerEngine
from plugins.comfyui.servers import ServerConfig
from plugins.diffusion.params import LoraSpec, Txt2ImgParams
from plugins.lora_training.model_export import write_model
from tests.test_comfyui_graphs import INFO
from tests.test_comfyui_remote import get, registry

RANK = 4
WIDTH = 768  # CLIP ViT-L's width, the tiny checkpoint's text encoder
RENAMED = "studio/cat_v1.safetensors"  # the LoRA as the server's folder holds it


def clip_lora(seed: int) -> dict[str, np.ndarray]:
    """A kohya-named LoRA on the text encoder's first layers (ComfyUI loads these keys into
    the tiny checkpoint's full-size CLIP), strong enough to change the picture."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(4):
        key = f"lora_te_text_model_encoder_layers_{layer}_self_attn_q_proj"
        tensors[f"{key}.lora_down.weight"] = rng.normal(0, 1, (RANK, WIDTH)).astype(np.float16)
        tensors[f"{key}.lora_up.weight"] = rng.normal(0, 1, (WIDTH, RANK)).astype(np.float16)
        tensors[f"{key}.alpha"] = np.array(RANK, np.float16)
    return tensors


def install_locally(home: Path, name: str, tensors: dict[str, np.ndarray]) -> Path:
    """A LoRA written by Atelier's own writer (which records the tensor hash)."""
    folder = home / "models" / "loras"
    folder.mkdir(parents=True, exist_ok=True)
    return write_model(folder / f"{name}.safetensors", ModelData(tensors, {"ss_output_name": name}))


def install_on_server(loras: Path, name: str, tensors: dict[str, np.ndarray]) -> None:
    """The LoRA as another tool saved it: another name and metadata, the same hash keys."""
    path = loras / name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"ss_output_name": "studio copy"})
    recorded = hash_metadata(tensor_hash(path))
    save_file(tensors, str(path), metadata={"ss_output_name": "studio copy", **recorded})


class RecordedClient:
    """A server's /view_metadata answers, counting the requests."""

    def __init__(self, metadata: dict[str, dict[str, str]]) -> None:
        self.metadata = metadata
        self.asked: list[tuple[str, str]] = []

    def model_metadata(self, folder: str, filename: str) -> dict[str, str]:
        self.asked.append((folder, filename))
        return self.metadata.get(filename, {})


def test_a_local_lora_is_found_under_the_name_that_records_its_hash(atelier_home):
    local = install_locally(atelier_home, "my-cat", clip_lora(1))
    digest = tensor_hash(local)
    client = RecordedClient(
        {
            "a-dog.safetensors": hash_metadata(
                tensor_hash(install_locally(atelier_home, "dog", clip_lora(2)))
            ),
            RENAMED: {"ss_output_name": "x", "modelspec.hash_sha256": f"0x{digest.upper()}"},
        }
    )
    offered = ("a-dog.safetensors", "notes.ckpt", RENAMED)
    finder = CopyFinder(client, {"loras": offered}, ModelStore())
    assert finder.find("loras", "my-cat") == RENAMED
    assert finder.find("loras", "my-cat") == RENAMED
    # each server file's metadata asked for once; a .ckpt records none and is not asked about
    assert client.asked == [("loras", "a-dog.safetensors"), ("loras", RENAMED)]
    assert set(finder.local_names("loras")) == {"my-cat", "dog"}  # a-dog is dog's copy
    assert finder.find("loras", "not-installed-here") is None
    assert finder.find("checkpoints", "my-cat") is None  # a LoRA is no checkpoint


def test_the_graph_names_the_servers_copy_and_without_one_the_job_is_refused():
    info = replace(
        INFO,
        models={**INFO.models, "loras": (RENAMED,)},
        find_copy=lambda kind, wanted: RENAMED if (kind, wanted) == ("loras", "my-cat") else None,
    )
    params = Txt2ImgParams(prompt="a cat <lora:my-cat:0.7>", steps=2, width=64, height=64)
    made = plan("diffusion.txt2img", params, 1, info, "Studio")
    loaders = [n for n in made.graph.nodes.values() if n["class_type"] == "LoraLoader"]
    assert [n["inputs"]["lora_name"] for n in loaders] == [RENAMED]
    with pytest.raises(Unsupported, match="no LoRA named 'my-dog'"):
        plan("diffusion.txt2img", Txt2ImgParams(prompt="<lora:my-dog:1>"), 1, info, "Studio")


def test_a_renamed_lora_on_a_real_server_is_used_by_its_hash(atelier_home, tmp_path):
    from tests.comfyui_server import ComfyUIServer, comfyui_unavailable, tiny_checkpoint

    if comfyui_unavailable():
        pytest.skip(comfyui_unavailable())
    base = tmp_path / "server"
    install_on_server(base / "models" / "loras", RENAMED, clip_lora(1))
    install_on_server(base / "models" / "loras", "a-dog.safetensors", clip_lora(2))
    install_locally(atelier_home, "my-cat", clip_lora(1))
    install_locally(atelier_home, "my-owl", clip_lora(3))  # the server has no copy of this one
    with ComfyUIServer(base, checkpoints=[tiny_checkpoint()]) as server:
        engine = ServerEngine.from_registry(
            registry(), servers=[ServerConfig(server.url)], preview_interval_s=None
        )
        params = Txt2ImgParams(prompt="a cat", steps=2, width=64, height=64, seed=3)
        plain = engine.submit("diffusion.txt2img", params).future.result(240)
        with_lora = replace_loras(params, LoraSpec("my-cat", 1.0))
        ending = engine.submit("diffusion.txt2img", with_lora).future.result(240)
        assert isinstance(plain, JobFinished) and isinstance(ending, JobFinished), ending
        graphs = [record["prompt"][2] for record in get(server, "/history").values()]
        names = [
            n["inputs"]["lora_name"]
            for g in graphs
            for n in g.values()
            if "lora_name" in n["inputs"]
        ]
        assert names == [RENAMED]
        assert not np.array_equal(plain.outputs[0].pixels, ending.outputs[0].pixels)
        listed = server_info.models(server.url)["loras"]
        assert "my-cat" in listed and RENAMED in listed and "my-owl" not in listed
        sent = len(get(server, "/history"))
        refused = engine.submit("diffusion.txt2img", replace_loras(params, LoraSpec("my-owl")))
        ending = refused.future.result(240)
        assert isinstance(ending, JobFailed) and "no LoRA named 'my-owl'" in ending.message
        assert len(get(server, "/history")) == sent  # nothing was sent
        engine.shutdown()


def replace_loras(params: Txt2ImgParams, *loras: LoraSpec) -> Txt2ImgParams:
    return replace(params, loras=loras)
