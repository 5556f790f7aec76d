"""Writing a trained model (ModelData) as .safetensors: the suffix, the thumbnail as a PNG
data URI, the recipe and provenance as JSON, the tensor hash kohya records, atomic writes
with the umask's permissions; and the safety step checking and watermarking a model's
sample picture."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

from engine import weights_hash
from engine.checkpoint_files import read_safetensors_header, safetensors_metadata
from engine.home import save_settings
from engine.protocol import ImageData, ModelData
from plugins.lora_training.model_export import write_model
from plugins.lora_training.params import TrainLoraParams
from plugins.provenance import marking, watermark
from tests.import_blocker import ENGINE_ONLY
from tests.test_import_rules import import_without
from tests.test_output_check import clean_image, flagged_image

RECIPE = {
    "task": "lora_training.train",
    "version": 1,
    "params": {"trigger": "sks", "folder": Path("/photos/dog"), "seed": 4},
}
METADATA = {"ss_network_module": "networks.lora", "modelspec.trigger_phrase": "sks"}


def tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "lora_unet_mid_block_attn1_to_q.lora_down.weight": rng.normal(size=(4, 16)).astype(
            np.float16
        ),
        "lora_unet_mid_block_attn1_to_q.lora_up.weight": rng.normal(size=(16, 4)).astype(
            np.float16
        ),
        "lora_unet_mid_block_attn1_to_q.alpha": np.array(4.0, np.float16),
    }


def model(thumbnail: ImageData | None = None) -> ModelData:
    return ModelData(tensors(), METADATA, thumbnail, {"recipe": RECIPE})


def read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    return load_file(str(path)), safetensors_metadata(read_safetensors_header(path))


def data_uri_pixels(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_only_safetensors_is_written(tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        write_model(tmp_path / "dog.ckpt", model())
    assert list(tmp_path.iterdir()) == []


def test_tensors_metadata_thumbnail_recipe_and_provenance_are_in_the_file(tmp_path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (24, 32, 4), dtype=np.uint8)  # transparency kept
    provenance = {"software": "Atelier", "watermark": {"payload": 7}}
    path = write_model(
        tmp_path / "dog.safetensors", model(ImageData(pixels, {"provenance": provenance}))
    )
    assert path == tmp_path / "dog.safetensors"
    written, meta = read(path)
    assert set(written) == set(tensors())
    for key, value in tensors().items():
        assert written[key].dtype == value.dtype and np.array_equal(written[key], value)
    assert {key: meta[key] for key in METADATA} == METADATA
    assert np.array_equal(data_uri_pixels(meta["modelspec.thumbnail"]), pixels)
    assert json.loads(meta["atelier.recipe"]) == {
        **RECIPE,
        "params": {**RECIPE["params"], "folder": "/photos/dog"},
    }
    assert json.loads(meta["atelier.provenance"]) == provenance


def without_hashes(meta: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in meta.items() if k not in ("sshs_model_hash", "modelspec.hash_sha256")}


def test_a_model_without_a_thumbnail_or_recipe_writes_neither(tmp_path):
    path = write_model(tmp_path / "dog.safetensors", ModelData(tensors(), METADATA))
    assert without_hashes(read(path)[1]) == METADATA


def kohya_model_hash(path: Path) -> str:
    """sd-webui-additional-networks' hash, as kohya's trainers record it: the sha256 of the
    file's bytes after the 8-byte length and the header."""
    data = path.read_bytes()
    return hashlib.sha256(data[8 + int.from_bytes(data[:8], "little") :]).hexdigest()


def test_the_file_records_its_tensor_hash_as_kohya_does(tmp_path):
    path = write_model(tmp_path / "dog.safetensors", model())
    meta = read(path)[1]
    assert meta["sshs_model_hash"] == kohya_model_hash(path)
    assert meta["modelspec.hash_sha256"] == "0x" + kohya_model_hash(path)
    assert weights_hash.recorded_hashes(meta) == {weights_hash.tensor_hash(path)}
    # the same tensors with other metadata, under another name: the same hash
    other = write_model(tmp_path / "renamed.safetensors", ModelData(tensors(), {"x": "y"}))
    assert other.read_bytes() != path.read_bytes()
    assert weights_hash.tensor_hash(other) == weights_hash.tensor_hash(path)
    changed = {**tensors(), "lora_unet_mid_block_attn1_to_q.alpha": np.array(8.0, np.float16)}
    third = write_model(tmp_path / "changed.safetensors", ModelData(changed, {}))
    assert weights_hash.tensor_hash(third) != weights_hash.tensor_hash(path)


def test_the_file_follows_the_umask_and_an_overwritten_file_keeps_its_mode(tmp_path, umask_022):
    path = write_model(tmp_path / "dog.safetensors", model())
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    write_model(path, ModelData(tensors(), {"modelspec.title": "again"}))
    assert path.stat().st_mode & 0o777 == 0o600
    assert without_hashes(read(path)[1]) == {"modelspec.title": "again"}
    assert [p.name for p in tmp_path.iterdir()] == ["dog.safetensors"]  # no temp left


def test_the_writer_and_the_format_import_without_torch():
    import_without(
        ENGINE_ONLY,
        ["plugins.lora_training.model_export", "plugins.lora_training.kohya_format"],
    )


# ---- the safety step on a model's sample picture ------------------------------------------


def test_the_sample_picture_is_checked_and_watermarked_and_the_model_kept(home, tmp_path):
    picture = ImageData(clean_image(256))
    before = model(picture)
    (after,), warnings = marking.after_job(RECIPE["task"], TrainLoraParams(), (before,), None)
    assert isinstance(after, ModelData) and warnings == ()
    assert after.tensors is before.tensors and after.metadata == METADATA
    assert after.meta == before.meta
    record = after.thumbnail.meta["provenance"]
    found = watermark.detect_image(np.ascontiguousarray(after.thumbnail.pixels[..., :3]))
    assert found.present and found.payload == record["watermark"]["payload"]
    assert found.payload == watermark.recipe_payload(RECIPE)  # the model's recipe's mark
    assert record["safety"]["output"]["checked"] and record["safety"]["output"]["action"] == "none"
    assert not np.array_equal(after.thumbnail.pixels, picture.pixels)
    path = write_model(tmp_path / "dog.safetensors", after)
    assert json.loads(read(path)[1]["atelier.provenance"])["watermark"] == record["watermark"]


def test_a_withheld_sample_picture_is_dropped_and_the_model_still_delivered(home):
    save_settings({"safety": {"output": "block"}}, home)
    before = model(ImageData(flagged_image()))
    (after,), warnings = marking.after_job(RECIPE["task"], TrainLoraParams(), (before,), None)
    assert after.thumbnail is None and after.tensors is before.tensors
    assert len(warnings) == 1 and "sample picture" in warnings[0] and "withheld" in warnings[0]


def test_a_model_without_a_picture_passes_untouched(home):
    before = model()
    (after,), warnings = marking.after_job(RECIPE["task"], TrainLoraParams(), (before,), None)
    assert after is before and warnings == ()
