"""LoRA training presets and the memory fit (plugins.lora_training.presets): what each family
and device gets, what the user's settings and a model's overrides change, fallbacks with a
sentence, an estimate that moves the right way, and a fit that keeps the user's choices."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugins.lora_training.params import TrainLoraParams
from plugins.lora_training.presets import (
    DeviceInfo,
    describe,
    estimate_memory,
    fit_to_memory,
    preset,
    prior_batch_size,
    resolve_settings,
)

GIB = 1024**3
SD15_BYTES = 4_300_000_000  # 1.07 B parameters at 4 bytes
SDXL_BYTES = 14_000_000_000  # 3.5 B parameters
BIG_GPU = DeviceInfo("cuda", 80 * GIB, bf16=True, bitsandbytes=True)
OLD_GPU = DeviceInfo("cuda", 24 * GIB)  # no bf16, no bitsandbytes
SMALL_GPU = DeviceInfo("cuda", 8 * GIB, bitsandbytes=True)
CPU = DeviceInfo("cpu", 64 * GIB)
MAC = DeviceInfo("mps", 32 * GIB)


def test_sd15_on_a_big_gpu():
    s = preset("sd15", 512, BIG_GPU, 12)
    assert (s.rank, s.alpha, s.learning_rate) == (16, 16.0, 1e-4)
    assert (s.steps, s.batch_size, s.resolution) == (1200, 2, 512)
    assert (s.precision, s.optimizer, s.gradient_checkpointing) == ("bf16", "adamw8bit", False)
    assert s.sample_every == 150 and s.checkpoint_every == 120 and s.prior_images == 0


def test_precision_optimizer_and_batch_follow_the_device():
    old = preset("sd15", 512, OLD_GPU, 12)
    assert (old.precision, old.optimizer, old.batch_size) == ("fp16", "adamw", 2)
    cpu = preset("sd15", 512, CPU, 12)
    assert (cpu.precision, cpu.optimizer, cpu.batch_size) == ("fp32", "adamw", 1)
    mac = preset("sd15", 512, MAC, 12)
    assert (mac.precision, mac.batch_size) == ("fp16", 1)


def test_sd2_trains_at_its_native_size():
    assert preset("sd2", 768, OLD_GPU, 12).resolution == 768


def test_sdxl_trains_at_1024_with_batch_1_and_checkpointing():
    s = preset("sdxl", 1024, BIG_GPU, 12)
    assert (s.resolution, s.batch_size, s.gradient_checkpointing) == (1024, 1, True)
    assert s.rank == 32 and s.learning_rate == 1e-4
    assert preset("sdxl", 1024, SMALL_GPU, 12).rank == 16


@pytest.mark.parametrize(("photos", "steps"), [(1, 400), (5, 500), (15, 1500), (50, 1500)])
def test_steps_grow_with_the_photos_within_bounds(photos, steps):
    s = preset("sd15", 512, BIG_GPU, photos)
    assert s.steps == steps
    assert s.sample_every == round(steps / 8)
    assert s.checkpoint_every == max(50, round(steps / 10))


def test_overrides_replace_fields_by_name_and_ignore_the_rest():
    overrides = {
        "steps": 300,
        "learning_rate": 1e-3,
        "rank": 8,
        "resolution": "128",  # wrong type
        "batch_size": True,  # a bool is not a number here
        "precision": "fp8",  # not a choice
        "colour": "blue",  # no such field
        "optimizer": "adamw",
    }
    s = preset("sd15", 128, BIG_GPU, 12, overrides)
    assert (s.steps, s.learning_rate, s.rank, s.alpha) == (300, 1e-3, 8, 8.0)
    assert (s.resolution, s.batch_size, s.precision, s.optimizer) == (128, 2, "bf16", "adamw")
    assert (s.sample_every, s.checkpoint_every) == (38, 50)  # from the overridden steps
    assert preset("sd15", 128, CPU, 12, {"sample_every": 7, "alpha": 4}).sample_every == 7
    assert preset("sd15", 128, CPU, 12, {"alpha": 4}).alpha == 4


def test_unknown_family_is_refused_in_a_sentence():
    with pytest.raises(ValueError, match=r"SD 1\.x, 2\.x and SDXL checkpoints; 'flux' is"):
        preset("flux", 1024, BIG_GPU, 12)
    with pytest.raises(ValueError, match="'sdxl_refiner'"):
        resolve_settings(TrainLoraParams(), "sdxl_refiner", 1024, BIG_GPU, 12, SDXL_BYTES)


def test_every_user_setting_wins_over_the_preset():
    params = TrainLoraParams(
        train_steps=240,
        rank=4,
        learning_rate=5e-5,
        batch_size=3,
        resolution=448,
        gradient_checkpointing="on",
        precision="fp16",
        optimizer="adamw",
        sample_every=20,
    )
    s, notes = resolve_settings(params, "sd15", 512, BIG_GPU, 12, SD15_BYTES)
    assert notes == []
    assert (s.steps, s.rank, s.alpha, s.learning_rate) == (240, 4, 4.0, 5e-5)
    assert (s.batch_size, s.resolution, s.gradient_checkpointing) == (3, 448, True)
    assert (s.precision, s.optimizer, s.sample_every, s.checkpoint_every) == (
        "fp16",
        "adamw",
        20,
        50,
    )


def test_user_steps_set_the_intervals_and_auto_keeps_the_preset():
    s, _ = resolve_settings(TrainLoraParams(train_steps=1600), "sd15", 512, BIG_GPU, 12, 10**9)
    assert (s.steps, s.sample_every, s.checkpoint_every) == (1600, 200, 160)
    default, notes = resolve_settings(TrainLoraParams(), "sd15", 512, BIG_GPU, 12, SD15_BYTES)
    assert default == preset("sd15", 512, BIG_GPU, 12) and notes == []


def test_prior_preservation_takes_the_photo_count_or_the_users_number():
    asked = TrainLoraParams(prior_preservation=True)
    assert resolve_settings(asked, "sd15", 512, BIG_GPU, 12, SD15_BYTES)[0].prior_images == 12
    assert resolve_settings(asked, "sd15", 512, BIG_GPU, 400, SD15_BYTES)[0].prior_images == 200
    counted = replace(asked, prior_images=80)
    assert resolve_settings(counted, "sd15", 512, BIG_GPU, 12, SD15_BYTES)[0].prior_images == 80
    unasked = TrainLoraParams(prior_images=80)
    assert resolve_settings(unasked, "sd15", 512, BIG_GPU, 12, SD15_BYTES)[0].prior_images == 0


def test_eight_bit_adam_without_bitsandbytes_falls_back_with_a_note():
    params = TrainLoraParams(optimizer="adamw8bit")
    s, notes = resolve_settings(params, "sd15", 512, OLD_GPU, 12, SD15_BYTES)
    assert s.optimizer == "adamw"
    assert any("bitsandbytes" in note and "AdamW" in note for note in notes)


def test_half_precision_on_the_cpu_falls_back_to_fp32_with_a_note():
    s, notes = resolve_settings(TrainLoraParams(precision="bf16"), "sd15", 512, CPU, 12, 10**8)
    assert s.precision == "fp32" and notes == ["The CPU trains in fp32, not bf16."]


def test_bf16_on_a_gpu_without_it_falls_back_to_fp16():
    params = TrainLoraParams(precision="bf16")
    s, notes = resolve_settings(params, "sd15", 512, OLD_GPU, 12, SD15_BYTES)
    assert s.precision == "fp16" and any("bf16" in note for note in notes)


def test_the_estimate_moves_the_right_way():
    base = preset("sd15", 512, OLD_GPU, 12)

    def size(**changes) -> int:
        return estimate_memory(replace(base, **changes), OLD_GPU, SD15_BYTES, "sd15")

    assert size(batch_size=4) > size(batch_size=2) > size(batch_size=1)
    assert size(resolution=768) > size(resolution=512) > size(resolution=256)
    assert size(gradient_checkpointing=True) < size(gradient_checkpointing=False)
    assert size(optimizer="adamw8bit") < size(optimizer="adamw")
    assert size(precision="fp32") > size(precision="fp16")
    assert size(rank=64) > size(rank=16)
    by_output = size(prior_images=12, prior_prompts=0)  # a generic caption beside each photo
    assert size(prior_images=12, prior_prompts=1) > by_output > size(prior_images=0)
    assert size(prior_images=12, prior_method="class_pictures") == by_output
    assert estimate_memory(base, OLD_GPU, 2 * SD15_BYTES, "sd15") > size()


def test_a_small_model_of_the_family_is_estimated_by_its_size():
    """The built-in model (25.5 MB at 4 bytes a parameter) trains batch 8 at 128 px in
    fp32 in about 0.3 GB (bench/train_lora.py's peak); its estimate stays above that, with
    prior preservation's examples too, and far below SD 1.5's at the same settings (10-19
    GB), so a laptop is not made to checkpoint or halve the batch for it."""
    built_in = replace(preset("sd15", 128, CPU, 16), batch_size=8)
    alone = estimate_memory(built_in, CPU, 25_500_000, "sd15")
    preserving = estimate_memory(replace(built_in, prior_images=16), CPU, 25_500_000, "sd15")
    assert 0.3 * GIB < alone < preserving < 2 * GIB
    assert estimate_memory(built_in, CPU, SD15_BYTES, "sd15") > 5 * alone


def test_prior_preservation_adds_examples_to_each_step():
    s = replace(preset("sd15", 512, OLD_GPU, 12), batch_size=4, prior_images=12)
    assert prior_batch_size(replace(s, prior_images=0)) == 0
    assert prior_batch_size(replace(s, prior_method="class_pictures")) == 4
    assert prior_batch_size(replace(s, prior_prompts=0)) == 4
    assert prior_batch_size(s) == 4 + 2  # and half as many kept prompts
    assert prior_batch_size(replace(s, batch_size=1)) == 1 + 1


def test_the_estimate_matches_the_public_figures():
    """SD 1.5 at 512 px, batch 1, fp16: 8-9 GB plain, about 6 GB with checkpointing and 8-bit
    Adam; SDXL at 1024 px, batch 1, checkpointing: 12-16 GB."""
    sd15 = replace(preset("sd15", 512, OLD_GPU, 12), batch_size=1, rank=4)
    assert 8 * GIB <= estimate_memory(sd15, OLD_GPU, SD15_BYTES, "sd15") <= 9.5 * GIB
    lean = replace(sd15, gradient_checkpointing=True, optimizer="adamw8bit")
    assert 5 * GIB <= estimate_memory(lean, OLD_GPU, SD15_BYTES, "sd15") <= 7 * GIB
    sdxl = preset("sdxl", 1024, OLD_GPU, 12)
    assert 12 * GIB <= estimate_memory(sdxl, OLD_GPU, SDXL_BYTES, "sdxl") <= 16 * GIB


def test_a_small_gpu_gets_settings_that_fit_and_says_so():
    s, notes = resolve_settings(TrainLoraParams(), "sd15", 512, SMALL_GPU, 12, SD15_BYTES)
    assert estimate_memory(s, SMALL_GPU, SD15_BYTES, "sd15") <= 0.9 * SMALL_GPU.memory_bytes
    assert s.gradient_checkpointing and s.batch_size == 1 and s.resolution == 512
    assert "Gradient checkpointing turned on to fit 8.0 GB (slower)." in notes
    assert "Batch size lowered to 1 to fit 8.0 GB." in notes


def test_the_fit_lowers_the_resolution_last_and_not_below_half():
    tight = DeviceInfo("cuda", 5 * GIB)
    start = preset("sd15", 512, tight, 12)
    s, notes = fit_to_memory(start, tight, SD15_BYTES, "sd15")
    assert s.batch_size == 1 and s.gradient_checkpointing and s.optimizer == "adamw"
    assert 256 <= s.resolution < 512 and s.resolution % 64 == 0
    assert f"Resolution lowered to {s.resolution} px to fit 5.0 GB." in notes
    assert estimate_memory(s, tight, SD15_BYTES, "sd15") <= 0.9 * tight.memory_bytes
    # a step less and it would not have fitted: the fit takes no more than it needs
    roomier = replace(s, resolution=s.resolution + 64)
    assert estimate_memory(roomier, tight, SD15_BYTES, "sd15") > 0.9 * tight.memory_bytes


def test_what_does_not_fit_is_said_with_the_estimate_and_the_memory():
    tiny = DeviceInfo("cuda", 2 * GIB)
    s, notes = fit_to_memory(preset("sd15", 512, tiny, 12), tiny, SD15_BYTES, "sd15")
    assert s.resolution == 256  # as low as the fit goes
    needed = estimate_memory(s, tiny, SD15_BYTES, "sd15") / GIB
    assert notes[-1] == (
        f"Training needs about {needed:.1f} GB by a rough estimate, more than the 2.0 GB "
        "the GPU has for it, so it may run out of memory."
    )


def test_a_fit_that_is_not_needed_changes_nothing():
    start = preset("sd15", 512, BIG_GPU, 12)
    assert fit_to_memory(start, BIG_GPU, SD15_BYTES, "sd15") == (start, [])


def test_fields_the_user_set_are_kept_by_the_fit():
    params = TrainLoraParams(batch_size=4, resolution=512, gradient_checkpointing="off")
    s, notes = resolve_settings(params, "sd15", 512, SMALL_GPU, 12, SD15_BYTES)
    assert (s.batch_size, s.resolution, s.gradient_checkpointing) == (4, 512, False)
    assert s.optimizer == "adamw8bit"  # left to the preset, which had already chosen it
    assert notes[-1].startswith("Training needs about ")
    assert notes[-1].endswith(
        "(the gradient checkpointing, batch size and resolution you chose were kept)."
    )


def test_describe_says_the_settings_in_one_line():
    s = replace(preset("sd15", 512, SMALL_GPU, 8), precision="fp16", gradient_checkpointing=True)
    assert describe(s) == (
        "rank 16, learning rate 0.0001, 800 steps, batch 2, 512 px, fp16, AdamW 8-bit, "
        "gradient checkpointing"
    )
    plain = replace(preset("sd15", 512, CPU, 8), prior_images=8, prior_method="class_pictures")
    assert describe(plain) == (
        "rank 16, learning rate 0.0001, 800 steps, batch 1, 512 px, fp32, AdamW, 8 class images"
    )
    kept = replace(plain, prior_method="base_output", prior_prompts=0)
    assert describe(kept).endswith("AdamW, prior preservation by the base model's output")
    assert describe(replace(kept, prior_prompts=2)).endswith(
        "prior preservation by the base model's output and 2 more prompts a photo"
    )


def test_prior_preservation_keeps_the_base_output_unless_asked_for_class_pictures():
    asked = TrainLoraParams(prior_preservation=True)
    chosen = resolve_settings(asked, "sd15", 512, BIG_GPU, 12, SD15_BYTES)[0]
    assert chosen.prior_method == "base_output"
    pictures = replace(asked, prior_method="class_pictures")
    chosen = resolve_settings(pictures, "sd15", 512, BIG_GPU, 12, SD15_BYTES)[0]
    assert chosen.prior_method == "class_pictures"
    by_model = {"prior_method": "class_pictures", "prior_weight": 10.0}
    chosen = resolve_settings(asked, "sd15", 512, BIG_GPU, 12, SD15_BYTES, by_model)[0]
    assert (chosen.prior_method, chosen.prior_weight) == ("class_pictures", 10.0)
    weighed = replace(asked, prior_weight=4.5, kept_prompts="0")  # Advanced wins over both
    chosen = resolve_settings(weighed, "sd15", 512, BIG_GPU, 12, SD15_BYTES, by_model)[0]
    assert (chosen.prior_weight, chosen.prior_prompts) == (4.5, 0)
    chosen = resolve_settings(replace(asked, kept_prompts="3"), "sd15", 512, BIG_GPU, 12, 10**9)[0]
    assert (chosen.prior_weight, chosen.prior_prompts) == (1.0, 3)  # the preset's weight
    bad = {"prior_method": "pictures"}  # not a method: the preset's stays
    assert resolve_settings(asked, "sd15", 512, BIG_GPU, 12, SD15_BYTES, bad)[0].prior_method == (
        "base_output"
    )
