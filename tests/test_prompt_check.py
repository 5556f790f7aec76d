"""The prompt check: every category blocks, evasions are seen through, innocent words pass,
the user's lists override the shipped ones, and a blocked job (GUI engine or CLI) names
the category and writes nothing."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest

from engine.home import save_settings
from engine.protocol import ImageData, JobError, JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion.params import Txt2ImgParams
from plugins.provenance import marking
from plugins.provenance.prompt_check import (
    check_category,
    check_prompt,
    copy_lists_for_editing,
    load_categories,
    parse_list,
)
from plugins.registry import ENTRY_POINT_GROUP
from tests.engine_tasks import TASKS, StepParams


def categories(text: str) -> set[str]:
    return {match.category for match in check_prompt(text)}


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("a porn star on a beach", "sexual"),
        ("hentai, masterpiece, best quality", "sexual"),
        ("nude woman on a sofa", "sexual"),
        ("a loli character", "minors"),
        ("a 12 year old girl, naked", "minors"),
        ("teen in lingerie", "minors"),
        ("decapitated soldier on the ground", "gore"),
        ("a bloody massacre in a village", "gore"),
        ("white power rally banner", "hate"),
        ("nazi propaganda poster", "hate"),
        ("self harm scars", "self_harm"),
        ("suicide by hanging", "self_harm"),
    ],
)
def test_each_category_blocks_its_prompts(home, prompt, category):
    assert category in categories(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "p0rn",  # leetspeak
        "$3x on the beach",  # symbols for letters
        "pr0n",
        "p o r n",  # spaced out
        "a p o r n star",
        "p.o.r.n",  # punctuation between letters
        "n-u-d-e model",
        "n_u_d_e",
        "pooooorn",  # repeated letters
        "NUDE",  # case
        "nüde",  # accents
        "ｎｕｄｅ",  # full-width letters
        "nυde",  # a Greek upsilon for the u
        "nu\u200bde",  # a zero-width space inside
        "h3nt41",
    ],
)
def test_evasions_are_seen_through(home, prompt):
    assert "sexual" in categories(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "the town of Scunthorpe at dusk",
        "Sussex countryside, Essex coast, Middlesex university",
        "a cocktail party, assassin in the shadows",
        "analysis chart, therapist office, class photo",
        "unisex clothing catalogue",
        "a nude lipstick advert, nude colour palette",
        "two blue tits on a branch",
        "Moby Dick whale, a rooster cock at dawn",
        "Al Gore giving a speech",
        "a spic and span kitchen",
        "white power cable on a desk",
        "Suicide Squad poster",
        "a lollipop, shotgun, Mount Titlis, the Titanic",
        "1girl, masterpiece, 8k, 35mm, 16:9",
        "kid eating noodles, baby with a bottle",
        "a knight cutting bread on a board",
        "",
    ],
)
def test_innocent_prompts_pass(home, prompt):
    assert categories(prompt) == set()


def test_list_syntax_sets_combinations_prefixes_and_allowed_phrases():
    category = parse_list(
        textwrap.dedent(
            """
            # title: Test list
            rocket*
            @colour = red, blue
            @colour & car
            !rocket salad
            """
        ),
        "test",
    )
    assert category.title == "Test list"
    assert check_category(category, "rocketship")
    assert check_category(category, "a blue and shiny car")
    assert not check_category(category, "a blue bike")
    assert not check_category(category, "rocket salad with cheese")


def test_user_lists_override_and_extend_the_shipped_ones(home):
    folder = home / "safety"
    folder.mkdir()
    (folder / "sexual.txt").write_text("# title: My own list\nbanana\n")
    (folder / "brands.txt").write_text("# title: Competitor brands\nacme corp\n")
    assert categories("a banana") == {"sexual"}
    assert categories("porn") == set()  # the user's list replaced the shipped one
    assert categories("an Acme-Corp logo") == {"brands"}
    sources = {c.id: c.source for c in load_categories()}
    assert sources["gore"] == "shipped" and sources["sexual"] == str(folder / "sexual.txt")


def test_copy_lists_for_editing_keeps_existing_copies(home):
    folder = home / "safety"
    folder.mkdir()
    (folder / "gore.txt").write_text("mine\n")
    copy_lists_for_editing()
    assert (folder / "gore.txt").read_text() == "mine\n"
    assert (folder / "sexual.txt").is_file() and (folder / "minors.txt").is_file()


# ---- the before-hook, on the engine and in the CLI -------------------------------------------


def test_before_hook_refuses_naming_the_category_and_ignores_the_negative_prompt(home):
    with pytest.raises(JobError) as caught:
        marking.before_job("diffusion.txt2img", Txt2ImgParams(prompt="a p0rn scene"))
    assert caught.value.kind == "blocked_by_safety"
    assert '"Sexual content"' in caught.value.message
    marking.before_job("diffusion.txt2img", Txt2ImgParams(prompt="a cat", negative_prompt="nsfw"))


def test_warn_level_lets_the_prompt_through_and_records_it(home):
    save_settings({"safety": {"prompt": "warn"}}, home)
    params = Txt2ImgParams(prompt="nude figure study")
    marking.before_job("diffusion.txt2img", params)  # no exception
    image = ImageData(np.full((32, 32, 4), 200, np.uint8))
    outputs, warnings = marking.after_job("diffusion.txt2img", params, (image,), None)
    prompt = outputs[0].meta["provenance"]["safety"]["prompt"]
    assert prompt["level"] == "warn" and prompt["matched"][0]["category"] == "sexual"
    assert any("Sexual content" in w and "warn" in w for w in warnings)


@dataclasses.dataclass(frozen=True)
class PromptSteps(StepParams):
    prompt: str = ""


def test_the_engine_fails_a_blocked_job_before_it_runs(home):
    ran = []
    engine = InlineEngine(TASKS)  # the engine runs the checks itself, with no hook registered
    engine.subscribe(ran.append)
    event = engine.submit("test.steps", PromptSteps(prompt="gore everywhere")).future.result()
    assert isinstance(event, JobFailed) and event.kind == "blocked_by_safety"
    assert "Graphic violence" in event.message
    assert not any(type(e).__name__ == "JobProgress" for e in ran)  # the task never ran
    clean = engine.submit("test.steps", PromptSteps(prompt="a garden")).future.result()
    assert isinstance(clean, JobFinished)
    assert "provenance" in clean.outputs[0].meta


@pytest.fixture
def provenance_entry_point(tmp_path, monkeypatch):
    """The provenance plugin through a real entry point, for `discover()`: the installed
    one when pyproject registers it, else a test distribution declaring it."""
    from importlib.metadata import entry_points

    if "provenance" not in {e.name for e in entry_points(group=ENTRY_POINT_GROUP)}:
        info = tmp_path / "site" / "atelier_provenance_test-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: atelier-provenance-test\nVersion: 0.1\n"
        )
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\nprovenance = plugins.provenance:plugin\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path / "site"))


@pytest.mark.usefixtures("provenance_entry_point")
def test_cli_generate_with_a_blocked_prompt_exits_non_zero_and_writes_nothing(
    atelier_home, tmp_path, capsys
):
    from app.cli import main

    out = tmp_path / "out.png"
    args = ["generate", "a s3xy n4ked model", "--model", "tiny-sd15", "--steps", "2"]
    code = main([*args, "--size", "64x64", "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Sexual content" in err and "blocked" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.glob("*.png")) == []
