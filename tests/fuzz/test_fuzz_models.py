"""Model files and folders from outside: odd files, loops, huge folders, hostile JSON and
models that carry their own code never crash, hang or run anything; each skipped entry is
one printable problem line, and scanning writes nothing into the model folders."""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import sys
import tempfile
from pathlib import Path

import pytest

from engine import model_scan
from engine.devices import DevicePolicy
from engine.home import ensure_model_dirs
from engine.model_store import ModelEntry, ModelStore
from engine.protocol import JobError
from plugins.diffusion.families import BY_ID
from tests.fixtures.tiny_models import write_malicious_ckpt
from tests.fuzz.harness import run_limited
from tests.test_model_store import write_safetensors

SD15_KEYS = {"cond_stage_model.transformer.x.weight": [2], "model.diffusion_model.x.weight": [2]}
SD15_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
}
DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000


@pytest.fixture
def models(home) -> Path:
    """<home>/models/checkpoints holding one good single file and one good diffusers folder."""
    checkpoints = ensure_model_dirs(home) / "checkpoints"
    write_safetensors(checkpoints / "good-file.safetensors", SD15_KEYS)
    write_diffusers(checkpoints / "good-folder")
    return checkpoints


def write_diffusers(folder: Path, index: dict | None = None) -> Path:
    """A diffusers SD 1.x folder that the store lists (its weights are placeholders)."""
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps(index or SD15_INDEX))
    (folder / "unet" / "config.json").write_text('{"cross_attention_dim": 768, "in_channels": 4}')
    for name in ("unet", "vae", "text_encoder"):
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "model.safetensors").write_bytes(b"placeholder")
    for name in ("scheduler", "tokenizer"):
        (folder / name).mkdir(exist_ok=True)
    return folder


def scan(home: Path) -> tuple[list[str], list[str]]:
    """The names and problems of a scan of `home` (to run in a limited child)."""
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "no-hf", builtin_dir=home / "-")
    names = [entry.name for entry in store.scan()]
    return names, store.problems


def scanned(home: Path, seconds: float = 20) -> tuple[list[str], list[str]]:
    outcome = run_limited(scan, home, seconds=seconds)
    assert outcome.kind == "ok", str(outcome)
    names, problems = outcome.value
    for line in [*names, *problems]:
        line.encode("utf-8")  # printable on any UTF-8 terminal: no lone surrogates
        assert "\n" not in line and "Traceback" not in line
    return names, problems


def only_problem(problems: list[str], needle: str) -> str:
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, f"{needle!r} in {problems}"
    return hits[0]


# ---- the file system's oddities ---------------------------------------------------------------


def test_link_loops_and_links_to_parents_list_each_model_once(home, models, unchanged):
    (models / "a").symlink_to(models / "b")
    (models / "b").symlink_to(models / "a")
    (models / "itself").symlink_to(models / "itself")
    for i in range(25):
        (models / f"self-{i}.safetensors").symlink_to(models / f"self-{i}.safetensors")
    (models / "sub").mkdir()
    (models / "sub" / "up").symlink_to(models)
    (models / "sub" / "home").symlink_to(home)
    (models / "sub" / "models").symlink_to(home / "models")
    (models / "again").symlink_to(models / "good-folder")
    unchanged(home)

    names, problems = scanned(home)
    assert sorted(names) == ["good-file", "good-folder"]
    assert len([p for p in problems if "self-" in p]) == 25
    assert all("skipped" in p for p in problems)
    assert "already listed" in only_problem(problems, "sub/up:")
    assert "already listed" in only_problem(problems, "again:")


def test_pipes_devices_sockets_and_folders_named_like_models_never_block(home, models, unchanged):
    os.mkfifo(models / "pipe.safetensors")
    os.mkfifo(models / "pipe.ckpt")
    (models / "zero.safetensors").symlink_to("/dev/zero")
    (models / "null.ckpt").symlink_to("/dev/null")
    sockets = Path(tempfile.mkdtemp(prefix="atelier-sock-"))  # short: a socket path is <108
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sockets / "s"))
    (models / "socket.safetensors").symlink_to(sockets / "s")
    (models / "folder.safetensors").mkdir()
    (models / "empty-diffusers").mkdir()
    (models / "index-is-a-folder" / "model_index.json").mkdir(parents=True)
    for name, file in [
        ("fifo-index", "model_index.json"),
        ("fifo-unet", "unet/config.json"),
        ("fifo-README.md", "README.md"),
        ("fifo-atelier.json", "atelier.json"),
    ]:
        path = write_diffusers(models / name) / file
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    (models / "dangling.safetensors").symlink_to(models / "nowhere")
    unchanged(home)
    try:
        names, problems = scanned(home, seconds=15)
    finally:
        server.close()
    assert sorted(names) == ["fifo-README.md", "fifo-atelier.json", "good-file", "good-folder"]
    assert "skipped: it is a pipe (FIFO), not a file" in only_problem(problems, "pipe.safetensors")
    assert "a pipe (FIFO)" in only_problem(problems, "pipe.ckpt")
    assert "a device" in only_problem(problems, "zero.safetensors")
    assert "a device" in only_problem(problems, "null.ckpt")
    assert "a socket" in only_problem(problems, "socket.safetensors")
    assert "a folder" in only_problem(problems, "index-is-a-folder")
    assert "pipe" in only_problem(problems, "fifo-index")
    assert "unet/config.json" in only_problem(problems, "fifo-unet")
    assert "licence not read" in only_problem(problems, "fifo-README.md")
    assert "ignored" in only_problem(problems, "fifo-atelier.json")
    assert "cannot be read" in only_problem(problems, "dangling.safetensors")


def test_unreadable_folders_are_a_problem_line(home, models, monkeypatch):
    real_scandir = os.scandir

    def refusing(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    (models / "locked").mkdir()
    monkeypatch.setattr(model_scan.os, "scandir", refusing)
    names, problems = scanned(home)
    assert sorted(names) == ["good-file", "good-folder"]
    assert "cannot be read (Permission denied)" in only_problem(problems, "locked")


def test_file_names_that_are_not_utf8_print_cleanly(home, models, unchanged):
    folder = os.fsencode(models)
    write_safetensors(Path(os.fsdecode(folder + b"/\xff\xfe.safetensors")), SD15_KEYS)
    Path(os.fsdecode(folder + b"/bad-\xfe.safetensors")).write_bytes(b"\0" * 3)
    write_diffusers(Path(os.fsdecode(folder + b"/dir-\xff")))
    unchanged(home)
    names, problems = scanned(home)
    assert sorted(names) == ["dir-\ufffd", "good-file", "good-folder", "\ufffd\ufffd"]
    assert "bad-\ufffd.safetensors: skipped:" in only_problem(problems, "bad-")


def test_a_folder_of_many_files_is_scanned_in_bounded_time(home, models, monkeypatch, unchanged):
    monkeypatch.setattr(model_scan, "MAX_FOLDER_ENTRIES", 2_000)
    monkeypatch.setattr(model_scan, "MAX_SCAN_ENTRIES", 5_000)
    crowded = models / "aaa-crowded"
    crowded.mkdir()
    for i in range(3_000):
        (crowded / f"{i:05}.txt").touch()
    for i in range(3):
        part = models / "wide" / f"part{i}"
        part.mkdir(parents=True)
        for j in range(1_500):
            (part / f"{j}.txt").touch()
    unchanged(home)
    names, problems = scanned(home)
    assert "stopped after 2000 entries" in only_problem(problems, "aaa-crowded")
    assert "stopped: the scan has looked at 5000" in only_problem(problems, "wide/part")
    assert len(problems) == 2


def test_the_size_of_a_model_folder_is_bounded_too(home, models, monkeypatch):
    monkeypatch.setattr(model_scan, "MAX_FOLDER_ENTRIES", 500)
    huge = write_diffusers(models / "huge-folder") / "unet"
    for i in range(1_000):
        (huge / f"{i}.bin.part").touch()
    names, problems = scanned(home)
    assert "huge-folder" in names
    assert "stopped after 500 entries" in only_problem(problems, "huge-folder/unet")


def test_the_hf_cache_reads_refs_boundedly_and_never_leaves_the_repo(home, tmp_path):
    cache = tmp_path / "hub"
    repo = cache / "models--org--m"
    write_diffusers(repo / "snapshots" / "abc")
    (repo / "refs").mkdir()
    os.mkfifo(repo / "refs" / "main")
    other = cache / "models--org--up"
    write_diffusers(other / "snapshots" / "s1")
    (other / "refs").mkdir()
    (other / "refs" / "main").write_text("../../models--org--m/snapshots/abc")

    def hf_scan() -> list[str]:
        store = ModelStore(home=home, extra_folders=[], hf_cache=cache, builtin_dir=home / "-")
        return [(e.name, e.path.name) for e in store.scan()] + store.problems

    outcome = run_limited(hf_scan, seconds=15)
    assert outcome.kind == "ok", str(outcome)
    assert sorted(outcome.value) == [("org/m", "abc"), ("org/up", "s1")]


# ---- JSON the store reads -----------------------------------------------------------------------

BAD_JSON = {
    "deep list": DEEP_LIST,
    "deep object": DEEP_OBJECT,
    "not utf-8": b'{"_class_name": "\xff\xfe"}',
    "not json": "{'_class_name': 'StableDiffusionPipeline'}",
    "a list": "[1, 2, 3]",
    "a string": '"StableDiffusionPipeline"',
    "null": "null",
    "infinity": '{"_class_name": "StableDiffusionPipeline", "x": Infinity}',
    "a huge int": '{"_class_name": "StableDiffusionPipeline", "x": ' + "9" * 5000 + "}",
    "too large": '{"_class_name": "StableDiffusionPipeline"}' + " " * (5 * 1024 * 1024),
}


@pytest.mark.parametrize("content", BAD_JSON.values(), ids=BAD_JSON.keys())
@pytest.mark.parametrize("file", ["model_index.json", "unet/config.json"])
def test_unusable_config_json_skips_the_folder_naming_the_file(home, models, file, content):
    path = write_diffusers(models / "bad") / file
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    names, problems = scanned(home)
    assert sorted(names) == ["good-file", "good-folder"]
    assert file in only_problem(problems, "bad:")


WRONG_SHAPES = [
    {"_class_name": 5},
    {"_class_name": None, "unet": "x"},
    {"_class_name": {"a": 1}},
    {"_class_name": "StableDiffusionXLPipeline", "text_encoder": 5},
    {"_class_name": "StableDiffusionXLPipeline", "text_encoder": "abc"},
    {"_class_name": "StableDiffusionXLPipeline", "text_encoder": []},
    {"_class_name": "StableDiffusionPipeline", "unet": [None]},
    {"_class_name": "StableDiffusionPipeline", "unet": [1, 2]},
    {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "U", "extra"]},
    {"_class_name": "StableDiffusionPipeline", "../../etc": ["diffusers", "UNet"]},
    {"_class_name": "StableDiffusionPipeline", "requires_safety_checker": 1e308 * 10},
]


@pytest.mark.parametrize("index", WRONG_SHAPES)
def test_model_index_of_the_wrong_shape_is_one_problem_or_a_model(home, models, index):
    write_diffusers(models / "odd", index)
    names, problems = scanned(home)
    assert {"good-file", "good-folder"} <= set(names)
    assert ("odd" in names) != any(p.startswith(str(models / "odd")) for p in problems)


@pytest.mark.parametrize(
    "unet",
    [
        '{"in_channels": "9", "cross_attention_dim": [1024]}',
        '{"in_channels": 1e400, "cross_attention_dim": -1e400, "addition_embed_type": 5}',
        '{"in_channels": null, "cross_attention_dim": {"a": [null]}}',
    ],
)
def test_unet_config_values_of_the_wrong_type_are_ignored(home, models, unet):
    (write_diffusers(models / "odd") / "unet" / "config.json").write_text(unet)
    names, problems = scanned(home)
    assert "odd" in names and problems == []


def header_file(path: Path, header: object | bytes, data: int = 64) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data)
    return path


TENSOR = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
BAD_HEADERS = {
    "deep": DEEP_LIST.encode(),
    "a list": [TENSOR],
    "tensor is null": {"cond_stage_model.transformer.x": None},
    "negative shape": {"a": {**TENSOR, "shape": [-1]}},
    "shape is a number": {"a": {**TENSOR, "shape": 2}},
    "shape of strings": {"a": {**TENSOR, "shape": ["2"]}},
    "shape of null": {"a": {**TENSOR, "shape": [None]}},
    "shape of floats": {"a": {**TENSOR, "shape": [1e300]}},
    "huge offsets": {"a": {**TENSOR, "data_offsets": [0, 1e400]}},
    "float offsets": {"a": {**TENSOR, "data_offsets": [0.0, 8.0]}},
    "one offset": {"a": {**TENSOR, "data_offsets": [0]}},
    "offsets backwards": {"a": {**TENSOR, "data_offsets": [8, 0]}},
    "boolean offsets": {"a": {**TENSOR, "data_offsets": [False, True]}},
    "dtype is a number": {"a": {**TENSOR, "dtype": 5}},
    "no dtype": {"a": {"shape": [2], "data_offsets": [0, 8]}},
    "nan": b'{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 8]}}',
    "not utf-8": b'{"\xff": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
}


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_a_bad_safetensors_header_is_one_problem(home, models, header):
    header_file(models / "bad.safetensors", header)
    names, problems = scanned(home)
    assert sorted(names) == ["good-file", "good-folder"]
    assert "is not a usable .safetensors file" in only_problem(problems, "bad.safetensors")


def test_metadata_of_any_type_is_kept_as_text(home, models):
    header = {
        "cond_stage_model.transformer.x": TENSOR,
        "model.diffusion_model.x": TENSOR,
        "__metadata__": {"license": ["a", {"b": None}], "n": 1e300, "deep": [[[[1]]]], "z": None},
    }
    header_file(models / "meta.safetensors", header)
    names, problems = scanned(home)
    assert "meta" in names and problems == []


@pytest.mark.parametrize(
    "content",
    [DEEP_LIST, DEEP_OBJECT, b"\xff\xfe", "[1]", '"x"', '{"native_size": 1e400, "about": 5}'],
)
def test_a_bad_atelier_json_never_stops_the_model(home, models, content):
    path = models / "good-folder" / "atelier.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    names, problems = scanned(home)
    assert "good-folder" in names
    assert all("atelier.json: ignored:" in p for p in problems)


def test_atelier_json_as_a_folder_is_ignored_with_a_note(home, models):
    (models / "good-folder" / "atelier.json").mkdir()
    names, problems = scanned(home)
    assert "good-folder" in names
    assert "a folder" in only_problem(problems, "atelier.json: ignored:")


# ---- code that comes with a model -----------------------------------------------------------


def custom_component(folder: Path, marker: Path) -> None:
    index = {**SD15_INDEX, "unet": ["my_module", "MyUNet"]}
    write_diffusers(folder, index)
    (folder / "unet" / "my_module.py").write_text(
        f"open({str(marker)!r}, 'w')\nclass MyUNet: pass\n"
    )


def custom_pipeline_class(folder: Path, marker: Path) -> None:
    write_diffusers(folder, {**SD15_INDEX, "_class_name": ["pipeline", "MyPipeline"]})
    (folder / "pipeline.py").write_text(f"open({str(marker)!r}, 'w')\n")


def custom_pipeline_key(folder: Path, marker: Path) -> None:
    write_diffusers(folder, {**SD15_INDEX, "custom_pipeline": "lpw_stable_diffusion"})


def auto_map(folder: Path, marker: Path) -> None:
    write_diffusers(folder)
    config = {"auto_map": {"AutoModel": "modeling.MyModel"}, "architectures": ["MyModel"]}
    (folder / "text_encoder" / "config.json").write_text(json.dumps(config))
    (folder / "text_encoder" / "modeling.py").write_text(f"open({str(marker)!r}, 'w')\n")


def os_library(folder: Path, marker: Path) -> None:
    write_diffusers(folder, {**SD15_INDEX, "scheduler": ["os", "system"]})


FOREIGN = [custom_component, custom_pipeline_class, custom_pipeline_key, auto_map, os_library]


@pytest.mark.parametrize("make", FOREIGN)
def test_a_folder_that_needs_its_own_code_is_never_listed_or_loaded(home, models, tmp_path, make):
    from engine.model_loader import load_model

    marker = tmp_path / "FOREIGN-CODE-RAN"
    make(models / "custom", marker)
    names, problems = scanned(home)
    assert "custom" not in names
    assert "Atelier never runs such code" in only_problem(problems, "custom:")
    entry = ModelEntry(
        "custom", "checkpoints", "sd15", "diffusers", models / "custom", 1, "atelier"
    )
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "-", builtin_dir=home / "-")
    with pytest.raises(JobError) as err:
        load_model(entry, store, BY_ID, DevicePolicy("cpu", "float32"))
    assert err.value.kind == "invalid_input" and "never runs" in err.value.message
    assert not marker.exists()


@pytest.mark.parametrize(
    "weights", ["unet/diffusion_pytorch_model.bin", "text_encoder/pytorch_model.bin"]
)
def test_pickled_weights_with_code_in_a_folder_are_refused_before_loading(
    home, models, tmp_path, weights
):
    from engine.model_loader import load_model

    marker = tmp_path / "FOREIGN-CODE-RAN"
    folder = write_diffusers(models / "pickled")
    (folder / weights).parent.joinpath("model.safetensors").unlink()
    write_malicious_ckpt(folder / weights, marker)
    entry = ModelEntry("pickled", "checkpoints", "sd15", "diffusers", folder, 1, "atelier")
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "-", builtin_dir=home / "-")
    with pytest.raises(JobError) as err:
        load_model(entry, store, BY_ID, DevicePolicy("cpu", "float32"))
    assert "refused: it contains code" in err.value.message and weights in err.value.message
    assert not marker.exists()


def test_a_pipe_in_a_model_folder_is_refused_before_diffusers_reads_it(home, models):
    from engine.model_loader import load_model

    os.mkfifo(models / "good-folder" / "vae" / "config.json")
    entry = ModelEntry(
        "f", "checkpoints", "sd15", "diffusers", models / "good-folder", 1, "atelier"
    )
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "-", builtin_dir=home / "-")

    def load() -> None:
        load_model(entry, store, BY_ID, DevicePolicy("cpu", "float32"))

    outcome = run_limited(load, seconds=60, memory_mb=4000)
    assert outcome.kind == "error" and outcome.error_type == "JobError", str(outcome)
    assert "vae/config.json is a pipe (FIFO)" in outcome.message


# ---- the safety word lists and the safety checker's folder ------------------------------------


def test_odd_safety_lists_are_skipped_and_the_shipped_list_stays(home):
    from plugins.provenance.prompt_check import check_prompt

    folder = home / "safety"
    folder.mkdir()
    (folder / "folder.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")
    os.mkfifo(folder / "sexual.txt")  # replaces nothing: the shipped list stays in force
    with (folder / "huge.txt").open("wb") as f:
        f.truncate(10 * 1024**3)  # sparse: reading it would take minutes
    (folder / "latin1.txt").write_bytes(b"# title: Caf\xe9\ncaf\xe9 noir\nrocket\n")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")

    def categories(prompt: str) -> list[str]:
        return sorted(match.category for match in check_prompt(prompt, home))

    outcome = run_limited(lambda: [categories("porn"), categories("a rocket")], seconds=20)
    assert outcome.kind == "ok", str(outcome)
    assert outcome.value == [["sexual"], ["latin1"]]


def test_the_safety_checker_search_is_bounded_and_tolerant(home, unchanged):
    from plugins.provenance import output_check

    root = ensure_model_dirs(home) / "safety"
    (root / "a" / "config.json").mkdir(parents=True)
    (root / "b").mkdir()
    os.mkfifo(root / "b" / "config.json")
    (root / "c").mkdir()
    (root / "c" / "config.json").write_text(DEEP_LIST)
    (root / "d").mkdir()
    (root / "d" / "config.json").write_text('["StableDiffusionSafetyChecker"]')
    (root / "e").mkdir()
    (root / "e" / "config.json").write_text('{"architectures": "StableDiffusionSafetyChecker"}')
    (root / "loop").symlink_to(root)
    (root / "self").symlink_to(root / "self")
    (root / "z").mkdir()  # the real one, found after all the others
    (root / "z" / "config.json").write_text('{"architectures": ["StableDiffusionSafetyChecker"]}')
    unchanged(root)

    outcome = run_limited(output_check.find_clip_checker, home, seconds=15)
    assert outcome.kind == "ok" and outcome.value == root / "z", str(outcome)


# ---- `atelier models` survives all of it ------------------------------------------------------


def run_cli_models() -> tuple[int, str, str]:
    """`atelier models` with stdout and stderr as a UTF-8 terminal would have them."""
    from app.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True)
    code = main(["models"])
    return (
        code,
        out.getvalue().decode("utf-8", "replace"),
        err.getvalue().decode("utf-8", "replace"),
    )


def test_atelier_models_survives_every_odd_model_folder(
    home, models, tmp_path, monkeypatch, unchanged
):
    folder = os.fsencode(models)
    write_safetensors(Path(os.fsdecode(folder + b"/\xff\xfe.safetensors")), SD15_KEYS)
    os.mkfifo(models / "pipe.safetensors")
    (models / "zero.safetensors").symlink_to("/dev/zero")
    (models / "loop").symlink_to(models / "loop")
    (models / "sub").mkdir()
    (models / "sub" / "up").symlink_to(models)
    (write_diffusers(models / "deep") / "model_index.json").write_text(DEEP_LIST)
    header_file(models / "bad-header.safetensors", BAD_HEADERS["negative shape"])
    custom_component(models / "custom", tmp_path / "FOREIGN-CODE-RAN")
    write_malicious_ckpt(models / "evil.ckpt", tmp_path / "FOREIGN-CODE-RAN")
    (models / "good-folder" / "atelier.json").write_text('{"about": "\\ud800 shapes"}')
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    unchanged(home)

    outcome = run_limited(run_cli_models, seconds=30)
    assert outcome.kind == "ok", str(outcome)
    code, out, err = outcome.value
    assert code == 0, err
    assert "good-file" in out and "good-folder" in out and " shapes" in out
    skipped = ["pipe.safetensors", "zero.safetensors", "loop", "sub/up", "deep", "custom"]
    for name in [*skipped, "bad-header.safetensors", "evil.ckpt"]:
        assert f"{name}: skipped:" in err, name
    assert not (tmp_path / "FOREIGN-CODE-RAN").exists()
