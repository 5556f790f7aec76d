"""The output check: the real NudeNet model on synthetic images, the block / blur / warn
policy driven by its real output, videos sampled, previews, the CLIP checker loaded
offline from <home>/models/safety/, and honest settings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from engine.home import models_dir, save_settings
from engine.protocol import AudioData, ImageData, JobError, MaskData, VideoData
from plugins.diffusion.params import Txt2ImgParams
from plugins.provenance import marking, output_check
from plugins.provenance.settings import SafetySettings, safety_settings, save_safety_settings

PARAMS = Txt2ImgParams(prompt="an abstract study")


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal but for an invisible watermark."""
    return float(np.abs(a.astype(int) - b.astype(int)).mean()) < 2


def set_policy(home, **safety) -> None:
    save_settings({"safety": safety}, home)


def flagged_image(size: int = 320) -> np.ndarray:
    """Two shaded skin-toned ovals side by side: abstract, yet NudeNet's real model
    scores it as exposed buttocks (about 0.8), which makes it a synthetic flagged input."""
    yy, xx = np.mgrid[0:size, 0:size] / size * 320
    rgb = np.empty((size, size, 3), np.float64)
    rgb[:] = (40, 40, 40)
    for cx in (105, 215):
        r = ((xx - cx) / 70) ** 2 + ((yy - 170) / 85) ** 2
        light = np.clip(1.05 - 0.45 * r, 0, 1)[..., None]
        rgb = np.where((r <= 1)[..., None], np.array([224, 172, 140]) * light, rgb)
    image = Image.fromarray(rgb.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    return np.dstack([np.asarray(image), np.full((size, size), 255, np.uint8)])


def clean_image(size: int = 320) -> np.ndarray:
    """A sky-like gradient with a few hills: nothing for NudeNet to find."""
    y = np.linspace(0, 1, size)[:, None]
    x = np.linspace(0, 1, size)[None, :]
    rgb = np.stack(
        [60 + 80 * y + 0 * x, 120 + 60 * y + 0 * x, 220 - 80 * y + 0 * x], axis=-1
    ).astype(np.uint8)
    hills = y > 0.7 + 0.1 * np.sin(x * 9)
    rgb[hills] = (40, 110, 50)
    return np.dstack([rgb, np.full((size, size), 255, np.uint8)])


# ---- the real detector --------------------------------------------------------------------


def test_the_real_nudenet_model_flags_the_synthetic_image_and_not_the_clean_one(home):
    detections = output_check.detect_nudity(flagged_image())
    assert detections and {"class", "score", "box"} <= set(detections[0])
    (flagged,), (clean,) = (
        output_check.check_images([flagged_image()], 0.5),
        output_check.check_images([clean_image()], 0.5),
    )
    assert flagged.flagged and flagged.scores["nudenet"]["BUTTOCKS_EXPOSED"] >= 0.5
    assert "exposed buttocks" in flagged.reasons[0] and flagged.checkers == ["nudenet"]
    assert not clean.flagged and clean.reasons == []


def test_the_obscured_image_is_no_longer_flagged(home):
    blurred = output_check.obscure(flagged_image())
    assert blurred.shape == (320, 320, 4) and blurred.dtype == np.uint8
    assert not output_check.check_images([blurred], 0.5)[0].flagged


# ---- the policy, with the real detector's output ---------------------------------------------


def safety_of(output) -> dict:
    return output.meta["provenance"]["safety"]["output"]


def test_blur_policy_blurs_the_flagged_result_of_a_batch_and_records_scores(home):
    set_policy(home, output="blur")
    flagged, clean = flagged_image(), clean_image()
    outputs, warnings = marking.after_job(
        "diffusion.txt2img", PARAMS, (ImageData(flagged), ImageData(clean)), None
    )
    assert len(outputs) == 2
    first, second = outputs
    assert close(first.pixels, output_check.obscure(flagged)) and not close(first.pixels, flagged)
    assert close(second.pixels, clean)
    assert safety_of(first)["action"] == "blurred" and safety_of(first)["flagged"]
    assert safety_of(first)["scores"]["nudenet"]["BUTTOCKS_EXPOSED"] >= 0.5
    assert safety_of(first)["scores"]["sd_clip_safety_checker"] == "not installed"
    assert safety_of(second)["action"] == "none" and not safety_of(second)["flagged"]
    assert safety_of(first)["policy"] == "blur"
    assert warnings == ("Result 1 of 2 was blurred by the safety check: " + _reason(first),)


def _reason(output) -> str:
    return ", ".join(safety_of(output)["reasons"]) + "."


def test_block_policy_withholds_flagged_results_and_fails_when_none_is_left(home):
    set_policy(home, output="block")
    outputs, warnings = marking.after_job(
        "diffusion.txt2img", PARAMS, (ImageData(flagged_image()), ImageData(clean_image())), None
    )
    assert len(outputs) == 1 and safety_of(outputs[0])["action"] == "none"
    assert "withheld" in warnings[0]
    with pytest.raises(JobError) as caught:
        marking.after_job("diffusion.txt2img", PARAMS, (ImageData(flagged_image()),), None)
    assert caught.value.kind == "blocked_by_safety" and "exposed buttocks" in caught.value.message


def test_warn_policy_keeps_the_result_and_says_so(home):
    set_policy(home, output="warn")
    flagged = flagged_image()
    (output,), warnings = marking.after_job("t", PARAMS, (ImageData(flagged),), None)
    assert close(output.pixels, flagged)
    assert safety_of(output)["action"] == "kept" and "flagged" in warnings[0]


def test_video_frames_are_sampled_and_a_flagged_video_is_blurred(home):
    set_policy(home, output="blur", video_frames=4)
    frames = np.stack([clean_image(160)[..., :3]] * 9)
    frames[4] = flagged_image(160)[..., :3]
    assert output_check.sample_indices(9, 4) == [0, 3, 5, 8]
    assert output_check.sample_indices(9, 5) == [0, 2, 4, 6, 8]
    (video,), warnings = marking.after_job("t", PARAMS, (VideoData(frames, 8.0),), None)
    record = safety_of(video)
    assert record["scores"]["frames"] == [0, 3, 5, 8] and not record["flagged"]
    set_policy(home, output="blur", video_frames=5)
    (video,), warnings = marking.after_job("t", PARAMS, (VideoData(frames, 8.0),), None)
    assert safety_of(video)["action"] == "blurred" and "frame 4" in safety_of(video)["reasons"][0]
    assert close(video.frames[4], output_check.obscure(frames[4]))
    assert not close(video.frames[4], frames[4])


def test_masks_pass_untouched_and_audio_is_marked_but_recorded_as_unchecked(home):
    mask = MaskData(np.zeros((8, 8), np.uint8))
    audio = AudioData(np.zeros((1, 16000), np.float32), 16000)
    outputs, _ = marking.after_job("t", PARAMS, (mask, audio), None)
    assert outputs[0] is mask
    assert safety_of(outputs[1])["checked"] is False


def test_previews_are_blurred_when_flagged_and_kept_under_warn(home):
    flagged, clean = ImageData(flagged_image()), ImageData(clean_image())
    assert marking.check_preview("t", PARAMS, clean) is clean
    blurred = marking.check_preview("t", PARAMS, flagged)
    assert blurred is not None and close(blurred.pixels, output_check.obscure(flagged.pixels))
    set_policy(home, output="warn")
    assert marking.check_preview("t", PARAMS, flagged) is flagged


# ---- the policy when the detector cannot run (a stub detector, in this unit test only) -------


def test_an_unavailable_checker_withholds_under_blur_and_warns_under_warn(home, monkeypatch):
    def broken(_image):
        raise output_check.CheckerUnavailable("NudeNet could not start: no model")

    monkeypatch.setattr(output_check, "nudenet_scores", broken)
    image = ImageData(clean_image(64))
    with pytest.raises(JobError) as caught:
        marking.after_job("t", PARAMS, (image,), None)
    assert caught.value.kind == "blocked_by_safety" and "could not run" in caught.value.message
    assert marking.check_preview("t", PARAMS, image) is None
    set_policy(home, output="warn")
    (output,), warnings = marking.after_job("t", PARAMS, (image,), None)
    assert safety_of(output)["checked"] is False and "could not run" in warnings[0]


# ---- the CLIP checker, offline from <home>/models/safety/ ------------------------------------


def save_tiny_clip_checker(folder, always_flag: bool) -> None:
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                     "num_hidden_layers": 1, "vocab_size": 100},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
                       "num_hidden_layers": 1, "image_size": 224, "patch_size": 32},
        projection_dim=8,
    )  # fmt: skip
    checker = StableDiffusionSafetyChecker(config)
    if always_flag:
        with torch.no_grad():
            checker.concept_embeds_weights.fill_(-2.0)  # any cosine beats -2: flagged
    checker.save_pretrained(folder)


def test_the_clip_checker_loads_offline_and_its_scores_are_recorded(home):
    folder = models_dir("safety", home) / "tiny-safety-checker"
    save_tiny_clip_checker(folder, always_flag=False)
    assert output_check.find_clip_checker(home) == folder
    (verdict,) = output_check.check_images([clean_image(64)], 0.5, home)
    assert verdict.checkers == ["nudenet", "sd_clip_safety_checker"]
    clip = verdict.scores["sd_clip_safety_checker"]
    assert clip["flagged"] == (clip["max_concept_score"] > 0)

    flagging = models_dir("safety", home) / "z-flagging"
    save_tiny_clip_checker(flagging, always_flag=True)
    (scores,) = output_check.clip_scores([clean_image(64)], flagging)
    assert scores["flagged"] is True and scores["max_concept_score"] > 0


# ---- settings -----------------------------------------------------------------------------


def test_invalid_settings_take_defaults_and_are_recorded(home):
    set_policy(home, output="nothing", prompt="warn", nudity_threshold=7)
    settings = safety_settings()
    assert settings.output == "blur" and settings.prompt == "warn"
    assert settings.nudity_threshold == 0.5
    assert set(settings.record()["ignored"]) == {"output: 'nothing'", "nudity_threshold: 7"}
    (output,), _ = marking.after_job("t", PARAMS, (ImageData(clean_image(64)),), None)
    assert output.meta["provenance"]["settings"]["ignored"] == settings.record()["ignored"]


def test_settings_round_trip_and_reject_bad_levels(home):
    save_safety_settings(SafetySettings(prompt="warn", output="block", nudity_threshold=0.7))
    assert safety_settings() == SafetySettings(prompt="warn", output="block", nudity_threshold=0.7)
    with pytest.raises(ValueError):
        save_safety_settings(SafetySettings(output="off"))
