"""Atelier's jobs as ComfyUI graphs, the server list and the protocol's small parsers, offline.

The graphs are what a real server runs (tests/test_comfyui_remote.py sends them to one);
here: that each job asks for the nodes and models it needs, that a server lacking one is
refused before anything is sent, and that a repaint keeps the picture's other pixels."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import numpy as np
import pytest

from plugins.comfyui.client import preview_of, refusal_text, running_and_pending
from plugins.comfyui.graphs import Unsupported, plan
from plugins.comfyui.server_info import ServerInfo
from plugins.comfyui.servers import ServerConfig, load_servers, normalise_url, save_servers
from plugins.diffusion.params import (
    ControlSpec,
    Img2ImgParams,
    InpaintParams,
    LoraSpec,
    OutpaintParams,
    ReferenceSpec,
    Txt2ImgParams,
)
from plugins.video.params import ImageToVideoParams

STOCK = frozenset(
    [
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "KSampler",
        "VAEDecode",
        "SaveImage",
        "LoadImage",
        "LoadImageMask",
        "VAEEncode",
        "VAEEncodeForInpaint",
        "SetLatentNoiseMask",
        "LoraLoader",
        "ControlNetLoader",
        "ControlNetApplyAdvanced",
    ]
)
MODELS = {
    "checkpoints": ("sd15/dreamy-v2.safetensors", "tiny.safetensors"),
    "loras": ("ink-style.safetensors",),
    "controlnet": ("control_v11p_sd15_scribble.safetensors",),
}
INFO = ServerInfo(STOCK, MODELS, ("euler", "euler_ancestral", "dpmpp_2m"), ("normal", "karras"))


def nodes_of(made, class_type: str) -> list[dict]:
    return [n["inputs"] for n in made.graph.nodes.values() if n["class_type"] == class_type]


def linked(made, link: list) -> str:
    return made.graph.nodes[link[0]]["class_type"]


def test_text_to_image_graph_names_the_model_sampler_and_size():
    params = Txt2ImgParams(
        prompt="a red fox", negative_prompt="blur", steps=6, cfg_scale=5.5, width=100, height=64
    )
    made = plan("diffusion.txt2img", params, 1234, INFO, "box")
    (sampler,) = nodes_of(made, "KSampler")
    assert sampler["seed"] == 1234 and sampler["steps"] == 6 and sampler["cfg"] == 5.5
    assert (sampler["sampler_name"], sampler["scheduler"]) == ("euler_ancestral", "normal")
    assert sampler["denoise"] == 1.0
    assert nodes_of(made, "EmptyLatentImage") == [{"width": 104, "height": 64, "batch_size": 1}]
    texts = [n["text"] for n in nodes_of(made, "CLIPTextEncode")]
    assert texts == ["a red fox", "blur"]
    assert made.checkpoint == "sd15/dreamy-v2.safetensors"  # none named: the server's first
    assert linked(made, sampler["latent_image"]) == "EmptyLatentImage"
    assert made.graph.nodes[made.output_node]["class_type"] == "SaveImage"
    json.dumps(made.graph.nodes)  # an API graph is plain JSON


def test_models_are_matched_by_file_stem_and_loras_chain_from_the_prompt_tags():
    params = Txt2ImgParams(
        prompt="a cat <lora:INK-style:0.7>", model="tiny", loras=(LoraSpec("off", 0.0),)
    )
    made = plan("diffusion.txt2img", params, 1, INFO, "box")
    assert made.checkpoint == "tiny.safetensors"
    (lora,) = nodes_of(made, "LoraLoader")  # the weight-0 LoRA is left out, unasked for
    assert lora["lora_name"] == "ink-style.safetensors"
    assert lora["strength_model"] == lora["strength_clip"] == 0.7
    assert [n["text"] for n in nodes_of(made, "CLIPTextEncode")][0] == "a cat"
    (sampler,) = nodes_of(made, "KSampler")
    assert linked(made, sampler["model"]) == "LoraLoader"


def test_a_control_is_uploaded_and_applied_over_its_step_range():
    scribble = np.zeros((32, 32, 3), np.uint8)
    control = ControlSpec("scribble", scribble, strength=0.8, start=0.1, end=0.6)
    made = plan("diffusion.txt2img", Txt2ImgParams(controls=(control,)), 1, INFO, "box")
    (applied,) = nodes_of(made, "ControlNetApplyAdvanced")
    assert (applied["strength"], applied["start_percent"], applied["end_percent"]) == (
        0.8,
        0.1,
        0.6,
    )
    (loader,) = nodes_of(made, "ControlNetLoader")
    assert loader["control_net_name"] == "control_v11p_sd15_scribble.safetensors"
    assert "atelier-control-0.png" in made.graph.uploads


@pytest.mark.parametrize(
    ("params", "lacking"),
    [
        (Txt2ImgParams(model="sdxl-base"), "no checkpoint named 'sdxl-base'"),
        (Txt2ImgParams(loras=(LoraSpec("missing"),)), "no LoRA named 'missing'"),
        (Txt2ImgParams(scheduler="DDIM"), "no DDIM sampler"),
        (
            Txt2ImgParams(controls=(ControlSpec("depth", np.zeros((8, 8, 3), np.uint8)),)),
            "no depth ControlNet",
        ),
        (
            Txt2ImgParams(references=(ReferenceSpec(np.zeros((8, 8, 3), np.uint8)),)),
            "cannot use reference images",
        ),
    ],
)
def test_what_a_server_lacks_is_said_before_sending(params, lacking):
    with pytest.raises(Unsupported, match=lacking) as raised:
        plan("diffusion.txt2img", params, 1, INFO, "the rack")
    assert "the rack" in str(raised.value) and "local engine" in str(raised.value)


def test_a_server_without_a_stock_node_is_refused():
    info = ServerInfo(STOCK - {"VAEEncodeForInpaint"}, MODELS, INFO.samplers, INFO.schedules)
    image = np.zeros((64, 64, 4), np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:24, 8:24] = 255
    with pytest.raises(Unsupported, match="VAEEncodeForInpaint"):
        plan("diffusion.inpaint", InpaintParams(image=image, mask=mask), 1, info, "box")
    partial = InpaintParams(image=image, mask=mask, strength=0.5)  # needs no such node
    assert nodes_of(plan("diffusion.inpaint", partial, 1, info, "box"), "SetLatentNoiseMask")


def test_image_to_image_repaints_the_uploaded_picture_at_its_strength():
    picture = np.random.default_rng(0).integers(0, 255, (60, 90, 4), np.uint8)
    made = plan("diffusion.img2img", Img2ImgParams(image=picture, strength=0.4), 7, INFO, "box")
    (sampler,) = nodes_of(made, "KSampler")
    assert sampler["denoise"] == 0.4 and linked(made, sampler["latent_image"]) == "VAEEncode"
    assert (made.width, made.height) == (88, 64)  # the VAE takes sides of 8s
    server_made = np.full((64, 88, 3), 9, np.uint8)
    assert made.finish(server_made).shape == (64, 88, 4)


def test_inpaint_keeps_every_pixel_outside_the_feathered_mask_exactly():
    picture = np.random.default_rng(1).integers(0, 255, (70, 90, 4), np.uint8)
    mask = np.zeros((20, 30), np.uint8) + 255
    params = InpaintParams(image=picture, mask=mask, mask_origin=(40, 30), grow=4, feather=4)
    made = plan("diffusion.inpaint", params, 3, INFO, "box")
    (encode,) = nodes_of(made, "VAEEncodeForInpaint")  # strength 1: from noise
    assert linked(made, encode["mask"]) == "LoadImageMask"
    result = made.finish(np.full((72, 88, 3), 200, np.uint8))  # the server's picture
    assert result.shape == picture.shape
    far = np.ones(picture.shape[:2], bool)
    far[30 - 9 : 50 + 9, 40 - 9 : 70 + 9] = False
    assert np.array_equal(result[far], picture[far])
    assert (result[38:42, 52:58, :3] == 200).all()  # inside the mask: the new pixels


def test_outpaint_sends_the_extended_canvas_and_keeps_the_old_picture():
    picture = np.random.default_rng(2).integers(0, 255, (64, 64, 4), np.uint8)
    picture[..., 3] = 255
    made = plan(
        "diffusion.outpaint", OutpaintParams(image=picture, right=30, overlap=8), 1, INFO, "b"
    )
    assert (made.width, made.height) == (96, 64)  # 30 rounds up to 32
    result = made.finish(np.full((64, 96, 3), 50, np.uint8))
    assert result.shape == (64, 96, 4)
    assert np.array_equal(result[:, :56], picture[:, :56])  # before the overlap: untouched
    assert (result[:, 70:, :3] == 50).all()


SVD_NODES = {"ImageOnlyCheckpointLoader", "SVD_img2vid_Conditioning", "VideoLinearCFGGuidance"}
SVD_INFO = replace(
    INFO,
    nodes=INFO.nodes | SVD_NODES,
    models={**MODELS, "checkpoints": (*MODELS["checkpoints"], "video/SVD_xt.safetensors")},
)


def test_image_to_video_is_stable_video_diffusion_on_the_uploaded_still():
    still = np.zeros((90, 160, 4), np.uint8)
    params = ImageToVideoParams(
        image=still, frames=6, fps=8, motion_bucket=40, noise_aug=0.1, cfg_scale=3, steps=5
    )
    made = plan("video.image_to_video", replace(params, work_size=128), 9, SVD_INFO, "Rack")
    assert made.fps == 8.0 and made.checkpoint == "video/SVD_xt.safetensors"
    assert (made.width, made.height) == (168, 96)  # about 128 squared in the still's shape
    assert made.graph.uploads["atelier-still.png"].shape == (96, 168, 4)
    (conditioned,) = nodes_of(made, "SVD_img2vid_Conditioning")
    assert {k: conditioned[k] for k in ("video_frames", "fps", "motion_bucket_id")} == {
        "video_frames": 6,
        "fps": 8,
        "motion_bucket_id": 40,
    }
    assert conditioned["augmentation_level"] == 0.1
    (sampler,) = nodes_of(made, "KSampler")
    assert linked(made, sampler["model"]) == "VideoLinearCFGGuidance"
    assert (sampler["seed"], sampler["steps"], sampler["cfg"]) == (9, 5, 3)
    native = plan("video.image_to_video", params, 9, SVD_INFO, "Rack")
    assert (native.width, native.height) == (1024, 576)  # SVD's own size for a 16:9 still


def test_image_to_video_is_refused_without_an_svd_checkpoint_or_by_animatediff():
    still = np.zeros((64, 64, 4), np.uint8)
    params = ImageToVideoParams(image=still)
    with pytest.raises(Unsupported, match="no Stable Video Diffusion checkpoint"):
        plan("video.image_to_video", params, 1, replace(SVD_INFO, models=MODELS), "Rack")
    with pytest.raises(Unsupported, match="lacks the node"):
        plan("video.image_to_video", params, 1, replace(SVD_INFO, nodes=INFO.nodes), "Rack")
    with pytest.raises(Unsupported, match="only Stable Video Diffusion"):
        plan("video.image_to_video", replace(params, method="animatediff"), 1, SVD_INFO, "Rack")
    named = replace(params, video_model="tiny")  # any checkpoint the designer names
    assert plan("video.image_to_video", named, 1, SVD_INFO, "Rack").checkpoint == "tiny.safetensors"


def test_bad_pictures_and_masks_are_refused_with_a_sentence():
    picture = np.zeros((32, 32, 4), np.uint8)
    with pytest.raises(ValueError, match="mask is empty"):
        plan(
            "diffusion.inpaint",
            InpaintParams(image=picture, mask=np.zeros((32, 32), np.uint8)),
            1,
            INFO,
            "b",
        )
    with pytest.raises(ValueError, match="extend the picture"):
        plan("diffusion.outpaint", OutpaintParams(image=picture), 1, INFO, "b")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("localhost:8188", "http://localhost:8188"),
        (" https://gpu.example.com/comfy/ ", "https://gpu.example.com/comfy"),
        ("http://[::1]:8188", "http://[::1]:8188"),
    ],
)
def test_server_addresses_are_normalised(typed, kept):
    assert normalise_url(typed) == kept


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "Type the server"),
        ("ftp://x", "http://"),
        ("http://x:99999", "port"),
        ("http://x/?a", "only the address"),
    ],
)
def test_bad_server_addresses_are_refused(typed, why):
    with pytest.raises(ValueError, match=why):
        normalise_url(typed)


def test_servers_are_kept_in_settings_and_bad_entries_skipped(tmp_path):
    save_servers(
        [ServerConfig("http://a:1", "secret", "Rack"), ServerConfig("http://b:2")], tmp_path
    )
    settings = tmp_path / "settings.json"
    data = json.loads(settings.read_text())
    data["comfyui_servers"].append({"url": "ftp://nope"})
    data["comfyui_servers"].append("junk")
    settings.write_text(json.dumps(data))
    servers = load_servers(tmp_path)
    assert servers == [ServerConfig("http://a:1", "secret", "Rack"), ServerConfig("http://b:2")]
    assert [s.label for s in servers] == ["Rack", "b:2"]


def test_protocol_parsers():
    answer = {
        "error": {"message": "Prompt outputs failed validation"},
        "node_errors": {
            "1": {
                "class_type": "CheckpointLoaderSimple",
                "errors": [{"details": "ckpt_name: 'x' not in []"}],
            }
        },
    }
    text = refusal_text(json.dumps(answer))
    assert "failed validation" in text and "CheckpointLoaderSimple: ckpt_name" in text
    queue = {"queue_running": [[0, "run-1", {}]], "queue_pending": [[1, "p-1", {}], [2, "p-2"]]}
    assert running_and_pending(queue) == (["run-1"], ["p-1", "p-2"])
    preview = preview_of(struct.pack(">II", 1, 2) + b"\x89PNG")
    assert preview is not None and preview.format == "png" and preview.data == b"\x89PNG"
    assert preview_of(struct.pack(">II", 3, 2) + b"x") is None
