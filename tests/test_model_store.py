"""The model store finds models in Atelier's home, other tools' folders and the HF cache."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import time

import pytest

from engine.model_store import ModelEntry, ModelStore
from engine.protocol import JobError
from tests.fixtures.tiny_models import write_malicious_ckpt

LORA_KEYS = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 16],
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": [16, 4],
    "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": [],
}


def write_safetensors(path, shapes: dict[str, list[int]], metadata=None) -> None:
    """A valid safetensors file of zeros with these tensor shapes."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = 4
        for dim in shape:
            n *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def store_for(home, **kwargs) -> ModelStore:
    kwargs.setdefault("extra_folders", [])
    kwargs.setdefault("hf_cache", home / "no-hf-cache")
    kwargs.setdefault("builtin_dir", home / "no-builtin")
    return ModelStore(home=home, **kwargs)


def by_name(entries: list[ModelEntry]) -> dict[str, ModelEntry]:
    return {e.name: e for e in entries}


def test_home_checkpoints_are_listed_with_family_format_and_size(atelier_home):
    entries = by_name(store_for(atelier_home).scan())
    folder, single = entries["tiny-sd15"], entries["tiny-sd15-single"]
    assert (folder.kind, folder.family, folder.format, folder.source) == (
        "checkpoints",
        "sd15",
        "diffusers",
        "atelier",
    )
    assert (single.family, single.format) == ("sd15", "single_file")
    assert entries["tiny-sdxl"].family == entries["tiny-sdxl-single"].family == "sdxl"
    assert single.size == single.path.stat().st_size and folder.size > single.size // 2


def test_scan_is_sorted_and_problems_start_empty(atelier_home):
    store = store_for(atelier_home)
    names = [e.name for e in store.scan()]
    assert names == sorted(names, key=str.casefold) and store.problems == []


def test_lora_in_the_checkpoints_folder_is_filed_as_a_lora(atelier_home):
    write_safetensors(atelier_home / "models" / "checkpoints" / "style.safetensors", LORA_KEYS)
    store = store_for(atelier_home)
    entry = store.find("style", kind="loras")
    assert (entry.kind, entry.family) == ("loras", "lora")
    assert "style" not in {e.name for e in store.checkpoints()}


def test_bad_files_become_problem_lines_and_the_scan_goes_on(atelier_home, tiny_models, tmp_path):
    folder = atelier_home / "models" / "checkpoints"
    data = (tiny_models / "tiny-sd15-single.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (folder / "notes.safetensors").write_text("this is a text file, not a model\n")
    write_safetensors(folder / "mystery.safetensors", {"foo.weight": [2, 2]})
    marker = tmp_path / "pwned"
    write_malicious_ckpt(folder / "evil.ckpt", marker)
    (folder / "readme.txt").write_text("ignored: not a model extension")
    (folder / "empty-subfolder").mkdir()

    store = store_for(atelier_home)
    names = {e.name for e in store.scan()}
    assert {"tiny-sd15", "tiny-sd15-single", "tiny-sdxl", "tiny-sdxl-single"} <= names
    assert not names & {"truncated", "notes", "mystery", "evil", "readme"}
    problems = "\n".join(store.problems)
    assert len(store.problems) == 4
    assert "truncated.safetensors: skipped:" in problems and "truncated" in problems
    assert "notes.safetensors: skipped:" in problems
    assert "mystery.safetensors: skipped: not a model Atelier knows" in problems
    assert "evil.ckpt: skipped:" in problems and "refused: it contains code" in problems
    assert not marker.exists()


def test_missing_name_suggests_close_names_and_where_models_go(atelier_home):
    store = store_for(atelier_home)
    with pytest.raises(JobError) as err:
        store.find("tiny-sd1")
    assert err.value.kind == "missing_model"
    assert "tiny-sd1'" in err.value.message and "tiny-sd15" in err.value.message
    assert str(atelier_home / "models" / "checkpoints") in err.value.message


def test_missing_name_explains_a_skipped_file_of_that_name(atelier_home):
    (atelier_home / "models" / "checkpoints" / "broken.safetensors").write_bytes(b"\0" * 3)
    with pytest.raises(JobError) as err:
        store_for(atelier_home).find("broken")
    assert "Note:" in err.value.message and "broken.safetensors" in err.value.message


def test_find_is_case_insensitive_and_accepts_a_path(atelier_home, tiny_models):
    store = store_for(atelier_home)
    assert store.find("TINY-SDXL").name == "tiny-sdxl"
    outside = store.find(str(tiny_models / "tiny-sdxl-single.safetensors"))
    assert (outside.family, outside.source) == ("sdxl", "extra")
    with pytest.raises(JobError, match="is a LoRA, not a checkpoint"):
        path = tiny_models.parent / "lora-outside.safetensors"
        write_safetensors(path, LORA_KEYS)
        store.find(str(path))


def test_find_takes_a_servers_file_name_for_the_installed_model_of_that_stem(atelier_home):
    """A layer keeps the server's name of a model chosen while jobs ran on a server; back on
    this computer the installed model of that name is meant."""
    store = store_for(atelier_home)
    assert store.find("sdxl\\TINY-SD15.safetensors").name == "tiny-sd15"
    assert store.find("models/tiny-sdxl.ckpt").name == "tiny-sdxl"
    with pytest.raises(JobError, match="No checkpoint named 'tiny.safetensors'"):
        store.find("tiny.safetensors")


def test_a_lora_name_asked_as_checkpoint_says_what_it_is(atelier_home):
    write_safetensors(atelier_home / "models" / "loras" / "ink.safetensors", LORA_KEYS)
    with pytest.raises(JobError, match="'ink' is a LoRA, not a checkpoint"):
        store_for(atelier_home).find("ink")


def test_empty_home_has_no_models_and_a_helpful_error(tmp_path):
    store = store_for(tmp_path / "nothing-here")
    assert store.scan() == [] and store.problems == []
    assert store.default_checkpoint() is None
    with pytest.raises(JobError) as err:
        store.find("anything")
    assert err.value.kind == "missing_model" and "models" in err.value.message


def test_default_prefers_the_builtin_demo_model(atelier_home, tiny_models, tmp_path):
    assert store_for(atelier_home).default_checkpoint().name == "tiny-sd15"
    builtin = tmp_path / "builtin"
    shutil.copytree(tiny_models / "tiny-sd15", builtin / "atelier-demo")
    entry = store_for(atelier_home, builtin_dir=builtin).default_checkpoint()
    assert (entry.name, entry.source) == ("atelier-demo", "builtin")


def test_a1111_comfyui_and_invokeai_folders_are_read_in_place(atelier_home, tiny_models, tmp_path):
    a1111 = tmp_path / "stable-diffusion-webui"
    sdxl_dir = a1111 / "models" / "Stable-diffusion" / "xl"
    sdxl_dir.mkdir(parents=True)
    shutil.copy2(tiny_models / "tiny-sdxl-single.safetensors", sdxl_dir / "juggernaut.safetensors")
    write_safetensors(a1111 / "models" / "Lora" / "ink-style.safetensors", LORA_KEYS)
    write_safetensors(a1111 / "venv" / "lib" / "not-scanned.safetensors", LORA_KEYS)
    (a1111 / "models" / "ESRGAN").mkdir()
    (a1111 / "models" / "ESRGAN" / "4x.pth").write_bytes(b"pickle that is never opened")
    comfy = tmp_path / "ComfyUI"
    (comfy / "models" / "checkpoints").mkdir(parents=True)
    shutil.copy2(tiny_models / "tiny-sd15-ckpt.ckpt", comfy / "models" / "checkpoints" / "old.ckpt")
    invoke = tmp_path / "invokeai"
    shutil.copytree(tiny_models / "tiny-sdxl", invoke / "models" / "sdxl" / "main" / "invoke-xl")
    loose = tmp_path / "my-models"
    loose.mkdir()
    shutil.copy2(tiny_models / "tiny-sd15-single.safetensors", loose / "loose-one.safetensors")

    store = store_for(atelier_home, extra_folders=[a1111, comfy, invoke, loose])
    entries = by_name(store.scan())
    assert entries["juggernaut"].family == "sdxl" and entries["juggernaut"].source == "extra"
    assert (entries["ink-style"].kind, entries["ink-style"].family) == ("loras", "lora")
    assert entries["old"].family == "sd15" and entries["old"].format == "single_file"
    assert entries["invoke-xl"].format == "diffusers" and entries["invoke-xl"].family == "sdxl"
    assert entries["loose-one"].source == "extra"
    assert "not-scanned" not in entries and "4x" not in entries
    assert store.problems == []
    assert store.find("juggernaut").path.is_relative_to(a1111)


def test_missing_extra_folder_is_a_problem_not_a_crash(atelier_home, tmp_path):
    store = store_for(atelier_home, extra_folders=[tmp_path / "unplugged-drive"])
    assert "tiny-sd15" in by_name(store.scan())
    assert store.problems == [
        f"{tmp_path / 'unplugged-drive'}: skipped: the added model folder does not exist"
    ]


def test_extra_folders_default_to_the_settings(atelier_home, tiny_models, tmp_path):
    from engine.home import add_model_folder

    extra = tmp_path / "downloads"
    extra.mkdir()
    shutil.copy2(tiny_models / "tiny-sdxl-single.safetensors", extra / "from-settings.safetensors")
    add_model_folder(extra, atelier_home)
    store = ModelStore(home=atelier_home, hf_cache=tmp_path / "none")
    assert store.find("from-settings").source == "extra"


def test_hugging_face_cache_diffusers_repos_are_named_org_slash_name(
    atelier_home, tiny_models, tmp_path
):
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-xl"
    shutil.copytree(tiny_models / "tiny-sdxl", repo / "snapshots" / "abc123")
    (repo / "snapshots" / "abc123" / "README.md").write_text("---\nlicense: openrail++\n---\n# x\n")
    (repo / "snapshots" / "old000").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    text_model = cache / "models--someone--a-text-model" / "snapshots" / "r1"
    text_model.mkdir(parents=True)
    (text_model / "config.json").write_text('{"model_type": "bert"}')

    store = store_for(atelier_home, hf_cache=cache)
    entry = store.find("someone/tiny-xl")
    assert (entry.family, entry.format, entry.source) == ("sdxl", "diffusers", "hf_cache")
    assert entry.licence == "openrail++" and entry.path.name == "abc123"
    assert "someone/a-text-model" not in {e.name for e in store.entries}
    assert store.problems == []


def test_hf_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert ModelStore(home=tmp_path).hf_cache == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert ModelStore(home=tmp_path).hf_cache == tmp_path / "elsewhere"


def test_licence_comes_from_safetensors_metadata(atelier_home):
    path = atelier_home / "models" / "loras" / "licensed.safetensors"
    write_safetensors(path, LORA_KEYS, metadata={"modelspec.license": "CreativeML Open RAIL-M"})
    assert store_for(atelier_home).find("licensed", "loras").licence == "CreativeML Open RAIL-M"


def test_hidden_folders_are_skipped(atelier_home, tiny_models):
    hidden = atelier_home / "models" / "checkpoints" / ".trash"
    hidden.mkdir()
    shutil.copy2(tiny_models / "tiny-sd15-single.safetensors", hidden / "deleted.safetensors")
    assert "deleted" not in by_name(store_for(atelier_home).scan())


def test_short_hash_is_a1111_style_and_follows_changes(atelier_home):
    store = store_for(atelier_home)
    single = store.find("tiny-sd15-single")
    expected = hashlib.sha256(single.path.read_bytes()).hexdigest()[:10]
    assert single.short_hash() == expected
    folder = store.find("tiny-sd15")
    unet = folder.path / "unet" / "diffusion_pytorch_model.safetensors"
    assert folder.short_hash() == hashlib.sha256(unet.read_bytes()).hexdigest()[:10]
    with single.path.open("ab") as f:
        f.write(b"\0")
    assert single.short_hash() != expected


def test_tensor_hash_names_a_single_safetensors_file_whatever_its_metadata(atelier_home):
    store = store_for(atelier_home)
    single = store.find("tiny-sd15-single")
    data = single.path.read_bytes()
    start = 8 + int.from_bytes(data[:8], "little")
    assert single.tensor_hash() == hashlib.sha256(data[start:]).hexdigest()
    assert store.find("tiny-sd15").tensor_hash() == ""  # a folder records none


def test_scan_reads_headers_only_even_for_huge_files(atelier_home, monkeypatch):
    huge = atelier_home / "models" / "checkpoints" / "huge-xl.safetensors"
    keys = ["conditioner.embedders.1.model.ln_final.weight", "model.diffusion_model.out.2.bias"]
    header = {
        k: {"dtype": "F16", "shape": [2**30], "data_offsets": [i * 2**31, (i + 1) * 2**31]}
        for i, k in enumerate(keys)
    }
    raw = json.dumps(header).encode()
    with huge.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + 2 * 2**31)  # a sparse 4 GiB file
    monkeypatch.setattr(hashlib, "sha256", lambda *a: pytest.fail("scan must not hash"))
    started = time.perf_counter()
    entry = by_name(store_for(atelier_home).scan())["huge-xl"]
    assert time.perf_counter() - started < 2
    assert entry.family == "sdxl" and entry.size > 4 * 10**9


def test_config_dir_is_the_shipped_family_folder(atelier_home, tmp_path):
    from engine.home import RESOURCES

    store = store_for(atelier_home)
    entry = store.find("tiny-sdxl-single")
    assert store.config_dir(entry) == RESOURCES / "configs" / "sdxl"
    sd2 = ModelEntry("v2", "checkpoints", "sd2", "single_file", tmp_path / "v2.ckpt", 1, "extra")
    with pytest.raises(JobError) as err:
        store.config_dir(sd2)
    assert err.value.kind == "invalid_input" and "sd15" in err.value.message


def test_config_root_can_point_at_the_tiny_configs(atelier_home, tiny_config_root):
    store = store_for(atelier_home, config_root=tiny_config_root)
    assert store.config_dir(store.find("tiny-sd15-single")) == tiny_config_root / "sd15"


def test_music_and_video_kinds_list_their_folders_without_judging_them(atelier_home):
    music = atelier_home / "models" / "music" / "musicgen-small"
    music.mkdir(parents=True)
    (music / "config.json").write_text('{"model_type": "musicgen"}')
    (atelier_home / "models" / "upscalers" / "4x-ultra.pth").write_bytes(b"a pickle, never opened")
    store = store_for(atelier_home)
    assert store.find("musicgen-small", "music").family == "musicgen"
    assert store.find("4x-ultra", "upscalers").family == "unknown"
    assert store.problems == []


def test_an_inpainting_partner_is_found_by_name_and_family_and_left_out_of_the_picker(
    atelier_home, tiny_models
):
    checkpoints = atelier_home / "models" / "checkpoints"
    for name in ("tiny-sd15_Inpainting", "tiny-sdxl-inpaint-other"):
        shutil.copytree(tiny_models / "tiny-sd15", checkpoints / name)
        config = checkpoints / name / "unet" / "config.json"
        config.write_text(config.read_text().replace('"in_channels": 4', '"in_channels": 9'))
    listing = store_for(atelier_home).listing()
    entries = by_name(listing.entries)
    assert entries["tiny-sd15_Inpainting"].variant == "inpaint"
    assert listing.inpainting_partner(entries["tiny-sd15"]) is entries["tiny-sd15_Inpainting"]
    assert listing.inpainting_partner(entries["tiny-sd15-single"]) is None  # no such name
    assert listing.inpainting_partner(entries["tiny-sdxl"]) is None  # the name differs
    assert listing.inpainting_partner(entries["tiny-sd15_Inpainting"]) is None
    picked = {e.name for e in listing.picker_checkpoints()}
    assert "tiny-sd15_Inpainting" not in picked
    assert {"tiny-sd15", "tiny-sdxl-inpaint-other"} <= picked  # no partner of anything


def test_file_hashes_are_kept_for_the_next_start_and_a_changed_file_is_read_again(
    atelier_home, monkeypatch
):
    from engine import weights_hash

    store = store_for(atelier_home)
    single = store.find("tiny-sd15-single")
    expected = single.short_hash()
    assert (atelier_home / weights_hash.HASHES_FILE).is_file()
    monkeypatch.setattr(weights_hash, "_cache", {})  # a new start: nothing in memory
    monkeypatch.setattr(weights_hash, "_read_hash", lambda *_: pytest.fail("read again"))
    assert single.short_hash() == expected  # from hashes.json, the file not read
    monkeypatch.undo()
    with single.path.open("ab") as f:
        f.write(b"\0")
    monkeypatch.setattr(weights_hash, "_cache", {})
    assert single.short_hash() == hashlib.sha256(single.path.read_bytes()).hexdigest()[:10]
    (atelier_home / weights_hash.HASHES_FILE).write_text("{not json")  # damaged: only slower
    monkeypatch.setattr(weights_hash, "_cache", {})
    assert single.short_hash() != expected
