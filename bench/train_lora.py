"""Benchmark: training a LoRA through Atelier's job against a bare diffusers + peft loop, and
the proof that the job teaches the built-in model something it cannot draw (issue 17).

(1) Speed and memory. The same model, photos and settings (the ones the job chose) train
for --speed-steps steps, each run in its own process: through Atelier's training task
("lora_training.train", as the panel and `atelier train-lora` run it, checkpoints
included) and through a bare loop (diffusers' DreamBooth-LoRA recipe: centre crops, latents
and prompt embeddings encoded once, PEFT's LoRA on the same layers, AdamW, the model's
noise schedule), in turns, --rounds times each, both with the torch threads Atelier's
device policy uses on the CPU (one fewer than the cores). speed_ratio: the job's best steps
per second over the bare loop's, timed after --warmup steps (target >= 0.95);
peak_mem_ratio: the job's median peak memory over the loop's (target <= 1.05): on CUDA the
peak of torch's allocated memory, on the CPU the peak resident memory above what the
process held before loading the model (both import their libraries first).

(2) The proof on the built-in model. A seeded folder of 16 photos of a crescent emblem the
model never saw (demo_model/concept_photos.py, half captioned "a red zqx at the top left on
a blue background", half left to "zqx emblem") trains with the job's own settings for this
computer, with prior preservation by the base model's output (the built-in model's
atelier.json weighs it 20 and pairs each photo with one more caption of its own grammar,
its preservation_prompts.txt, none of them held out); then, through Atelier's Text to
image task with the LoRA at weight 1:
- concept_hit: share of pictures with a crescent (demo_model/concept_scoring.py) over
  held-out trigger prompts x seeds (target >= 0.80); the base model's share for the same
  prompts is printed beside it;
- prior_drift: the largest change, in points, of the colour, shape and position scores of
  bench/demo_model.py's held-out captions (no trigger) with the LoRA against without it,
  same seeds (target <= 3);
- minutes: the training job's wall time, photo check to finished LoRA (target <= 10).

On a CUDA machine, --sd15 also trains a full-size SD 1.5 architecture with random weights
(resources/configs/sd15) at 512 px both ways and prints steps/s and peak VRAM.

About 30 minutes on a 2-core CPU, most of it the proof's training and its 280 pictures.

Run: python bench/train_lora.py [--speed-steps 60] [--prompts 20] [--captions 100] [--sd15]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRIGGER = "zqx"
DEMO = "atelier-demo"
SD15_RANDOM = "sd15-random"
TASK = "lora_training.train"
PHOTOS, PHOTO_SEED, PROMPT_SEED, SEEDS_PER_PROMPT = 16, 0, 17, 2
PRIOR_KEYS = ("color", "shape", "position")


# ---- measuring


@contextmanager
def peak_memory(device: str) -> Iterator[dict[str, int]]:
    """{"bytes": ...} once the block ends: on CUDA torch's peak allocated memory in the
    block; on the CPU the peak resident memory above the block's start, sampled every ms."""
    import torch

    result: dict[str, int] = {}
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield result
        torch.cuda.synchronize()
        result["bytes"] = torch.cuda.max_memory_allocated() - start
        return
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page

    start, peak, done = resident(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.001):
            peak[0] = max(peak[0], resident())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["bytes"] = max(peak[0], resident()) - start


def steps_per_second(times: dict[int, float], warmup: int) -> float:
    """Steps per second from the time each step ended, after the first `warmup` steps."""
    last = max(times)
    return (last - warmup) / (times[last] - times[warmup])


# ---- the two training loops, each in its own process


def atelier_train(options: dict[str, Any]) -> dict[str, Any]:
    """Train through Atelier's task; the steps' end times, the peak memory and the
    settings the job chose."""
    import diffusers
    import peft
    import torch

    from engine.protocol import JobFinished, JobProgress
    from engine.worker import InlineEngine
    from plugins.lora_training.params import TrainLoraParams
    from plugins.registry import discover

    engine = InlineEngine.from_registry(discover(), preview_interval_s=None)
    # imported before measuring, as the bare loop imports them before it: imports would
    # otherwise be most of the peak of a model this small
    importlib.import_module(engine.tasks[TASK].runner.split(":")[0])
    _ = diffusers.StableDiffusionPipeline, peft.LoraConfig  # diffusers imports lazily
    times: dict[int, float] = {}

    def on_event(event: Any) -> None:
        if isinstance(event, JobProgress) and "step" in (event.metrics or {}):
            times.setdefault(int(event.metrics["step"]), time.perf_counter())

    engine.subscribe(on_event)
    params = TrainLoraParams(
        folder=Path(options["folder"]),
        model=options["model"],
        trigger=TRIGGER,
        class_word="emblem",
        train_steps=options["steps"],
        resolution=options.get("resolution", 0),
        resume=False,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with peak_memory(device) as peak:
        event = engine.submit(TASK, params).future.result()
    engine.shutdown()
    if not isinstance(event, JobFinished):
        raise SystemExit(f"training failed: {getattr(event, 'message', event)}")
    output = event.outputs[0]
    chosen = output.meta["recipe"]["params"]  # the form's values with what the job chose
    settings = {key: chosen[key] for key in ("rank", "learning_rate", "batch_size", "resolution")}
    settings["settings"] = chosen["settings"]
    settings["alpha"] = float(output.metadata["ss_network_alpha"])
    # the modules it trained, by kohya's names ("lora_unet_down_blocks_0_..._to_k")
    settings["modules"] = sorted({key.split(".")[0] for key in output.tensors})
    words = settings["settings"].split(", ")
    settings["precision"] = next(w for w in words if w in ("fp32", "fp16", "bf16"))
    return {"times": times, "peak": peak["bytes"], "settings": settings}


def _bare_examples(pipe: Any, folder: Path, resolution: int) -> list[tuple[Any, Any]]:
    """Each photo centre-cropped and scaled, with its caption: (latent, prompt embeddings)."""
    import cv2
    import torch

    examples = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".png", ".jpg"):
            continue
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = rgb[top : top + side, left : left + side]
        pixels = cv2.resize(square, (resolution, resolution), interpolation=cv2.INTER_AREA)
        caption_file = path.with_suffix(".txt")
        caption = caption_file.read_text().strip() if caption_file.exists() else "zqx emblem"
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            vae = pipe.vae
            latent = vae.encode(x.to(vae.device, vae.dtype)).latent_dist.mean
            embeds = pipe.encode_prompt(caption, pipe.device, 1, False)[0]
        examples.append((latent[0] * vae.config.scaling_factor, embeds[0]))
    return examples


def same_modules(unet: Any, kohya_names: list[str]) -> list[str]:
    """The UNet's module names that the job's LoRA (kohya's names) trained."""
    if any(not name.startswith("lora_unet_") for name in kohya_names):
        raise SystemExit("the job trained the text encoder too; the bare loop trains the UNet")
    wanted = set(kohya_names)
    return [n for n, _ in unet.named_modules() if "lora_unet_" + n.replace(".", "_") in wanted]


def bare_train(options: dict[str, Any]) -> dict[str, Any]:
    """The same training as a bare diffusers + peft loop; steps' end times and peak memory."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig

    s = options["settings"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # as diffusers' script: frozen weights in 16 bits on a GPU, the LoRA in fp32, autocast
    autocast = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(s["precision"])
    weights = torch.float16 if device == "cuda" and autocast else torch.float32
    times: dict[int, float] = {}
    with peak_memory(device) as peak:
        pipe = StableDiffusionPipeline.from_pretrained(
            options["model_dir"], dtype=weights, safety_checker=None
        ).to(device)
        examples = _bare_examples(pipe, Path(options["folder"]), s["resolution"])
        unet = pipe.unet
        unet.requires_grad_(False)
        torch.manual_seed(0)
        config = LoraConfig(
            r=s["rank"],
            lora_alpha=s["alpha"],
            init_lora_weights="gaussian",
            target_modules=same_modules(unet, s["modules"]),
        )
        unet.add_adapter(config)
        trained = [p for p in unet.parameters() if p.requires_grad]
        for p in trained:
            p.data = p.data.float()
        optimizer = torch.optim.AdamW(trained, lr=s["learning_rate"], weight_decay=1e-2)
        noise_schedule = DDPMScheduler.from_config(pipe.scheduler.config)
        scaler = torch.amp.GradScaler("cuda") if autocast == torch.float16 else None
        unet.train()
        rng = np.random.default_rng(0)
        for step in range(options["steps"]):
            chosen = rng.choice(len(examples), s["batch_size"], replace=False)
            latents = torch.stack([examples[i][0] for i in chosen]).float()
            embeds = torch.stack([examples[i][1] for i in chosen])
            noise = torch.randn_like(latents)
            t = torch.randint(0, noise_schedule.config.num_train_timesteps, (len(chosen),))
            t = t.to(device)
            noisy = noise_schedule.add_noise(latents, noise, t)
            if noise_schedule.config.prediction_type == "v_prediction":
                target = noise_schedule.get_velocity(latents, noise, t)
            else:
                target = noise
            with torch.autocast(device, dtype=autocast, enabled=device == "cuda" and autocast):
                predicted = unet(noisy.to(weights), t, encoder_hidden_states=embeds).sample
            loss = F.mse_loss(predicted.float(), target.float())
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            float(loss)  # wait for the step, as the job does when it reports the loss
            times[step + 1] = time.perf_counter()
    return {"times": times, "peak": peak["bytes"]}


def in_child(kind: str, options: dict[str, Any], home: Path) -> dict[str, Any]:
    """Run atelier_train or bare_train in a fresh Python process (its own peak memory), with
    the torch threads Atelier's device policy gives training on the CPU."""
    from engine.devices import default_cpu_threads

    env = {**os.environ, "ATELIER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.setdefault("OMP_NUM_THREADS", str(default_cpu_threads()))
    command = [sys.executable, __file__, "--child", kind, json.dumps(options)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{kind} training failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["times"] = {int(k): v for k, v in result["times"].items()}
    return result


def compare(options: dict[str, Any], home: Path, warmup: int, rounds: int) -> dict[str, Any]:
    """Steps/s (the best of `rounds` runs each, taken in turns, as the CPU is shared) and
    peak memory (the median) of the job and of the bare loop, and their ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for _ in range(rounds):
        runs["ours"].append(in_child("atelier", options, home))
        settings = runs["ours"][0]["settings"]
        runs["bare"].append(in_child("bare", {**options, "settings": settings}, home))
    speed = {
        side: max(steps_per_second(r["times"], warmup) for r in results)
        for side, results in runs.items()
    }
    peak = {side: float(np.median([r["peak"] for r in results])) for side, results in runs.items()}
    return {
        "speed": speed,
        "peak_mb": {side: value / 2**20 for side, value in peak.items()},
        "speed_ratio": speed["ours"] / speed["bare"],
        "peak_mem_ratio": peak["ours"] / peak["bare"],
        "settings": runs["ours"][0]["settings"]["settings"],
    }


def describe_comparison(name: str, result: dict[str, Any]) -> str:
    speed, peak = result["speed"], result["peak_mb"]
    return (
        f"  {name} ({result['settings']}): Atelier {speed['ours']:.2f} steps/s, peak "
        f"{peak['ours']:.0f} MB; bare diffusers + peft {speed['bare']:.2f} steps/s, peak "
        f"{peak['bare']:.0f} MB (speed_ratio {result['speed_ratio']:.3f}, peak_mem_ratio "
        f"{result['peak_mem_ratio']:.3f})"
    )


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def random_sd15(home: Path) -> Path:
    """A diffusers folder of the SD 1.5 architecture with random weights, in fp16."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    configs = ROOT / "resources" / "configs" / "sd15"
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_config(AutoencoderKL.load_config(configs / "vae")),
        text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(configs / "text_encoder")),
        tokenizer=CLIPTokenizer.from_pretrained(configs / "tokenizer"),
        unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(configs / "unet")),
        scheduler=DDIMScheduler.from_config(DDIMScheduler.load_config(configs / "scheduler")),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    folder = home / "models" / "checkpoints" / SD15_RANDOM
    pipe.to(torch.float16).save_pretrained(folder)
    return folder


# ---- the proof on the built-in model


def train_proof(folder: Path, home: Path, steps: int) -> tuple[float, str]:
    """Train the crescent LoRA (`steps` 0: the job's own choice) and write it into the LoRA
    folder; the job's minutes and the settings it chose."""
    from engine.protocol import JobFinished
    from engine.worker import InlineEngine
    from plugins.lora_training.model_export import write_model
    from plugins.lora_training.params import TrainLoraParams
    from plugins.registry import discover

    engine = InlineEngine.from_registry(discover(), preview_interval_s=None)
    params = TrainLoraParams(
        folder=folder,
        model=DEMO,
        trigger=TRIGGER,
        class_word="emblem",
        train_steps=steps,
        prior_preservation=True,  # by the base output: prompts without the trigger kept
    )
    began = time.perf_counter()
    event = engine.submit(TASK, params).future.result()
    minutes = (time.perf_counter() - began) / 60
    engine.shutdown()
    if not isinstance(event, JobFinished):
        raise SystemExit(f"training failed: {getattr(event, 'message', event)}")
    write_model(home / "models" / "loras" / f"{TRIGGER}.safetensors", event.outputs[0])
    return minutes, event.outputs[0].meta["recipe"]["params"]["settings"]


class Painter:
    """Atelier's Text to image task on the built-in model at its own defaults."""

    def __init__(self) -> None:
        from engine.model_store import ModelStore
        from engine.worker import InlineEngine
        from plugins.registry import discover

        self.engine = InlineEngine.from_registry(discover(), store=ModelStore())
        model_json = ROOT / "resources" / "models" / DEMO / "atelier.json"
        self.defaults = json.loads(model_json.read_text())["defaults"]

    def paint(self, prompt: str, seed: int, lora: str | None) -> np.ndarray:
        from engine.protocol import JobFinished
        from plugins.diffusion.params import LoraSpec, Txt2ImgParams

        params = Txt2ImgParams(
            prompt=prompt,
            seed=seed,
            width=128,
            height=128,
            model=DEMO,
            loras=(LoraSpec(lora),) if lora else (),
            **self.defaults,
        )
        event = self.engine.submit("diffusion.txt2img", params).future.result()
        if not isinstance(event, JobFinished):
            raise SystemExit(f"generate failed: {getattr(event, 'message', event)}")
        return event.outputs[0].pixels[..., :3]


def concept_hit(painter: Painter, lora: str | None, prompts: int) -> float:
    """Share of held-out trigger prompts x seeds whose picture holds a crescent."""
    from demo_model.concept_photos import held_out_prompts
    from demo_model.concept_scoring import concept_present

    hits = [
        concept_present(painter.paint(text, seed, lora))
        for text, _ in held_out_prompts(TRIGGER, prompts, PROMPT_SEED)
        for seed in range(SEEDS_PER_PROMPT)
    ]
    return float(np.mean(hits))


def prior_scores(painter: Painter, lora: str | None, count: int) -> dict[str, float]:
    """The built-in model's colour, shape and position scores on held-out captions."""
    from bench.demo_model import held_out_captions
    from demo_model.scoring import score

    results: dict[str, list[bool]] = {key: [] for key in PRIOR_KEYS}
    for seed, caption in enumerate(held_out_captions(count)):
        checks = score(painter.paint(caption.text, seed, lora), caption.described)
        for key in PRIOR_KEYS:
            if key in checks:
                results[key].append(checks[key])
    return {key: float(np.mean(hits)) for key, hits in results.items()}


# ---- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-steps", type=int, default=60, help="steps timed (default 60)")
    parser.add_argument("--warmup", type=int, default=10, help="steps not timed (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="speed runs each (default 3)")
    parser.add_argument("--prompts", type=int, default=20, help="held-out trigger prompts")
    parser.add_argument("--captions", type=int, default=100, help="held-out captions, no trigger")
    parser.add_argument("--proof-steps", type=int, default=0, help="0: the job's choice")
    parser.add_argument("--sd15", action="store_true", help="also SD 1.5 at 512 px (CUDA)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, options = args.child[0], json.loads(args.child[1])
        result = (atelier_train if kind == "atelier" else bare_train)(options)
        print(json.dumps(result))
        return 0

    from demo_model.concept_photos import write_concept_folder

    with tempfile.TemporaryDirectory(prefix="atelier-bench-lora-") as scratch:
        home = Path(scratch) / "home"
        os.environ["ATELIER_HOME"] = str(home)
        from engine.home import ensure_model_dirs

        ensure_model_dirs(home)
        folder = Path(scratch) / "photos"
        write_concept_folder(folder, TRIGGER, PHOTOS, PHOTO_SEED)
        options = {
            "folder": str(folder),
            "model": DEMO,
            "model_dir": str(ROOT / "resources" / "models" / DEMO),
            "steps": args.speed_steps,
        }
        speed = compare(options, home, args.warmup, args.rounds)
        print(describe_comparison(f"built-in model, {args.speed_steps} steps", speed))
        if args.sd15 and not cuda_available():
            print("  SD 1.5 at 512 px: skipped, it needs a CUDA GPU")
        elif args.sd15:
            sd15 = {**options, "model": SD15_RANDOM, "resolution": 512}
            sd15["model_dir"] = str(random_sd15(home))
            big = compare(sd15, home, args.warmup, args.rounds)
            print(describe_comparison("SD 1.5 architecture, random weights, 512 px", big))
        minutes, settings = train_proof(folder, home, args.proof_steps)
        print(f"  proof: trained {PHOTOS} photos in {minutes:.1f} min ({settings})")
        painter = Painter()
        hit, base_hit = (
            concept_hit(painter, TRIGGER, args.prompts),
            concept_hit(painter, None, args.prompts),
        )
        count = args.prompts * SEEDS_PER_PROMPT
        print(f"  concept_hit {hit:.3f} with the LoRA, {base_hit:.3f} without, over {count}")
        base = prior_scores(painter, None, args.captions)
        tuned = prior_scores(painter, TRIGGER, args.captions)
        drift = max(abs(tuned[k] - base[k]) for k in PRIOR_KEYS) * 100
        for key in PRIOR_KEYS:
            print(f"  {key:<9} {base[key]:.3f} without the LoRA, {tuned[key]:.3f} with it")
        painter.engine.shutdown()
    print(
        f"bench train_lora: speed_ratio={speed['speed_ratio']:.3f} "
        f"peak_mem_ratio={speed['peak_mem_ratio']:.3f} concept_hit={hit:.3f} "
        f"prior_drift={drift:.1f} minutes={minutes:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
