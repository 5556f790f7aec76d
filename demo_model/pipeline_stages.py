"""The training stages, each reading the previous stage's output from the work folder."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from diffusers import AutoencoderKL


def _vae_folder(args: Namespace) -> Path:
    return args.work / "vae"


def stage_vae(args: Namespace, device: str, log) -> None:
    from .vae_training import held_out_psnr, train_vae

    vae = train_vae(args.work, args.vae_steps, args.vae_batch, args.seed, device, log)
    log(f"vae: held-out reconstruction PSNR {held_out_psnr(vae):.2f} dB")
    vae.save_pretrained(_vae_folder(args))


def stage_latents(args: Namespace, device: str, log) -> None:
    from .latent_cache import cache_latents

    vae = AutoencoderKL.from_pretrained(_vae_folder(args)).to(device)
    cache_latents(vae, args.work / "latents.pt", args.scenes, args.seed, log)


def stage_unet(args: Namespace, device: str, log) -> None:
    from .unet_training import train_unet

    train_unet(args.work, args.unet_steps, args.unet_batch, args.seed, device, log)


def stage_refine(args: Namespace, device: str, log) -> None:
    from .unet_training import train_unet

    if args.refine_steps:
        steps, batch, lr = args.refine_steps, args.refine_batch, args.refine_lr
        train_unet(args.work, steps, batch, args.seed, device, log, refine=True, peak_lr=lr)


def stage_export(args: Namespace, device: str, log) -> None:
    from .export import export_pipeline
    from .unet_training import trained_folder

    trained = trained_folder(args.work, refined=args.refine_steps > 0)
    export_pipeline(args.work, trained, _vae_folder(args), args.out, log)


def stage_inpaint_latents(args: Namespace, device: str, log) -> None:
    from .inpaint_training import cache_inpaint_latents

    path = args.work / "inpaint_latents.pt"
    cache_inpaint_latents(args.out, path, args.inpaint_samples, args.seed, log)


def stage_inpaint(args: Namespace, device: str, log) -> None:
    from .inpaint_training import train_inpaint

    steps, batch = args.inpaint_steps, args.inpaint_batch
    train_inpaint(args.out, args.work, steps, batch, args.seed, device, log)


def stage_export_inpaint(args: Namespace, device: str, log) -> None:
    from .inpaint_export import export_inpaint_pipeline

    export_inpaint_pipeline(args.out, args.work / "inpaint" / "unet", args.inpaint_out, log)


def stage_control_latents(args: Namespace, device: str, log) -> None:
    from .control_training import FIRST, cache_control_latents

    cache_control_latents(args.out, args.work, FIRST, args.control_samples, args.seed, log)


def stage_control(args: Namespace, device: str, log) -> None:
    from .control_training import FIRST, train_control

    steps, batch = args.control_steps, args.control_batch
    train_control(args.out, args.work, FIRST, steps, batch, args.seed, device, log)


def stage_control_binding(args: Namespace, device: str, log) -> None:
    """The second ControlNet run; its layouts are cached first, once."""
    from .control_training import BINDING, cache_control_latents, train_control

    if not (args.work / f"{BINDING.name}_latents.pt").exists():
        count = args.control_binding_samples
        cache_control_latents(args.out, args.work, BINDING, count, args.seed, log)
    steps, batch = args.control_binding_steps, args.control_batch
    train_control(args.out, args.work, BINDING, steps, batch, args.seed, device, log)


def stage_export_control(args: Namespace, device: str, log) -> None:
    from .control_export import export_controlnet
    from .control_training import BINDING

    trained = args.work / BINDING.name / "controlnet"
    export_controlnet(trained, args.out, args.control_out, log)


def stage_motion_latents(args: Namespace, device: str, log) -> None:
    from .motion_training import cache_motion_latents

    path = args.work / "motion_latents.pt"
    cache_motion_latents(args.out, path, args.motion_clips, args.seed, log)


def stage_motion(args: Namespace, device: str, log) -> None:
    from .motion_training import train_motion

    steps, batch = args.motion_steps, args.motion_batch
    train_motion(args.out, args.work, steps, batch, args.seed, device, log)


def stage_export_motion(args: Namespace, device: str, log) -> None:
    from .motion_export import export_motion_adapter

    export_motion_adapter(args.work / "motion" / "adapter", args.out, args.motion_out, log)


def _music_sizes(args: Namespace):
    from .music_architecture import TINY, MusicSizes

    return TINY if args.music_size == "tiny" else MusicSizes()


def stage_music_codec(args: Namespace, device: str, log) -> None:
    from .music_codec_training import train_codec

    steps, batch = args.music_codec_steps, args.music_codec_batch
    sizes, crop = _music_sizes(args), args.music_crop
    train_codec(args.work, sizes, args.music_pieces, steps, batch, crop, args.seed, device, log)


def stage_music_tokens(args: Namespace, device: str, log) -> None:
    from .music_training import cache_tokens

    cache_tokens(args.work, args.music_pieces, args.seed, log)


def stage_music(args: Namespace, device: str, log) -> None:
    from .music_training import train_music

    steps, batch, window = args.music_steps, args.music_batch, args.music_window
    sizes = _music_sizes(args)
    train_music(args.work, sizes, args.music_pieces, steps, batch, window, args.seed, device, log)


def stage_export_music(args: Namespace, device: str, log) -> None:
    from .music_export import export_music_model

    export_music_model(args.work / "music_model", args.music_out, args.music_window, log)


def run_stage(stage: str, args: Namespace, device: str, log) -> None:
    {
        "vae": stage_vae,
        "latents": stage_latents,
        "unet": stage_unet,
        "refine": stage_refine,
        "export": stage_export,
        "inpaint-latents": stage_inpaint_latents,
        "inpaint": stage_inpaint,
        "export-inpaint": stage_export_inpaint,
        "control-latents": stage_control_latents,
        "control": stage_control,
        "control-binding": stage_control_binding,
        "export-control": stage_export_control,
        "motion-latents": stage_motion_latents,
        "motion": stage_motion,
        "export-motion": stage_export_motion,
        "music-codec": stage_music_codec,
        "music-tokens": stage_music_tokens,
        "music": stage_music,
        "export-music": stage_export_music,
    }[stage](args, device, log)
