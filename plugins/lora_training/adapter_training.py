"""One LoRA adapter trained on a loaded checkpoint's UNet: put on, stepped, saved, taken off.

The adapter goes onto the UNet the model cache shares with every other job (PEFT, through
diffusers' `add_adapter`), so training loads nothing twice; the checkpoint's own weights
stay frozen and untouched, and the adapter is removed when training ends, however it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from plugins.lora_training.presets import TrainingSettings

ADAPTER = "atelier_training"
# the layers an adapter trains, by TrainingSettings.layers (PEFT target_modules)
TARGETS: dict[str, Any] = {
    # kohya's LoRA: the transformer blocks' attention, projections and MLP
    "blocks": [
        "to_k",
        "to_q",
        "to_v",
        "to_out.0",
        "proj_in",
        "proj_out",
        "ff.net.0.proj",
        "ff.net.2",
    ],
    # the cross-attention that reads the prompt, alone
    "cross_attention": r".*attn2\.(to_k|to_q|to_v|to_out\.0)",
}
AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


class Diverged(Exception):
    """The loss became NaN, infinite, or exploded."""


@contextlib.contextmanager
def adapter_on(pipe: Any, settings: TrainingSettings, seed: int) -> Iterator[AdapterTraining]:
    """The checkpoint's UNet with a new trainable adapter, taken off again at the end."""
    from peft import LoraConfig

    unet = pipe.unet
    unet.requires_grad_(False)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        init_lora_weights="gaussian",
        target_modules=TARGETS[settings.layers],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet.add_adapter(config, adapter_name=ADAPTER)
    unet.enable_adapters()
    try:
        yield AdapterTraining(pipe, settings)
    finally:
        if settings.gradient_checkpointing:
            unet.disable_gradient_checkpointing()
        unet.eval()
        unet.requires_grad_(False)
        unet.delete_adapters(ADAPTER)
        if not getattr(unet, "peft_config", None):  # no other LoRA on it: unwrap its layers
            unet.unload_lora()


class AdapterTraining:
    """The optimizer and one training step of the adapter on `pipe.unet`."""

    def __init__(self, pipe: Any, settings: TrainingSettings) -> None:
        from diffusers import DDPMScheduler

        self.unet, self.settings = pipe.unet, settings
        self.device = pipe.unet.device
        self.params = [p for p in self.unet.parameters() if p.requires_grad]
        for p in self.params:  # trained in fp32 whatever the checkpoint's precision
            p.data = p.data.float()
        self.noise = DDPMScheduler.from_config(pipe.scheduler.config)
        self.optimizer = _optimizer(self.params, settings)
        self.autocast = AUTOCAST.get(settings.precision) if self.device.type == "cuda" else None
        scaling = self.autocast == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=scaling) if scaling else None
        if settings.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        self.unet.train()

    # -- state

    def lora_state(self) -> dict[str, torch.Tensor]:
        """The adapter's tensors, by PEFT's names without the adapter name."""
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(self.unet, adapter_name=ADAPTER)
        return {k: v.detach().float().cpu().contiguous() for k, v in state.items()}

    def load_lora_state(self, state: Mapping[str, torch.Tensor]) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.unet, dict(state), adapter_name=ADAPTER)
        for p in self.params:
            p.data = p.data.float()

    # -- training

    def step(
        self, batch: dict[str, Any], prior: dict[str, Any] | None, step: int, seed: int
    ) -> float:
        """One optimizer step at learning rate for `step`; the loss before it. The noise and
        timesteps come from (seed, step), so a resumed run draws what an uninterrupted one
        would. Diverged, before the weights change, when the loss is not a finite number."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(step)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        loss = self._loss(batch, generator)
        if prior is not None:
            loss = loss + self.settings.prior_weight * self._prior_loss(prior, generator)
        value = float(loss.detach())
        if not torch.isfinite(loss.detach()):
            raise Diverged(value)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return value

    def learning_rate(self, step: int) -> float:
        """Constant after a linear warm-up."""
        warmup = self.settings.warmup_steps
        scale = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return self.settings.learning_rate * scale

    def _loss(self, batch: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        noisy, t, target = self._noised(batch, generator)
        return F.mse_loss(self._predict(batch, noisy, t).float(), target.float())

    def _prior_loss(self, prior: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        """Prior preservation's loss: by class pictures, the usual loss on them; by the base
        model's output, how far the adapter moves the prediction for the photos' captions
        with the subject made generic from what the base model predicts for them on the
        same noisy photo (ai-toolkit's differential output preservation)."""
        if self.settings.prior_method == "class_pictures":
            return self._loss(prior, generator)
        noisy, t, _ = self._noised(prior, generator)
        with torch.no_grad(), self._adapter_off():
            base = self._predict(prior, noisy, t)
        return F.mse_loss(self._predict(prior, noisy, t).float(), base.float())

    def _noised(
        self, batch: dict[str, Any], generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch's latents noised at random timesteps: (noisy, timesteps, target)."""
        latents = batch["latents"].float()
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        count = self.noise.config.num_train_timesteps
        t = torch.randint(0, count, (latents.shape[0],), generator=generator).to(latents.device)
        noisy = self.noise.add_noise(latents, noise, t)
        if self.noise.config.prediction_type == "v_prediction":
            return noisy, t, self.noise.get_velocity(latents, noise, t)
        return noisy, t, noise

    def _predict(self, batch: dict[str, Any], noisy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dtype = self.unet.dtype if self.autocast is None else self.autocast
        with torch.autocast(
            self.device.type, dtype=self.autocast, enabled=self.autocast is not None
        ):
            return self.unet(
                noisy.to(dtype),
                t,
                encoder_hidden_states=batch["embeds"],
                added_cond_kwargs=batch.get("added"),
            ).sample

    @contextlib.contextmanager
    def _adapter_off(self) -> Iterator[None]:
        """The base model alone: the adapter bypassed (its weights kept) until the end."""
        self.unet.disable_adapters()
        try:
            yield
        finally:
            self.unet.enable_adapters()


def _optimizer(params: list[torch.nn.Parameter], settings: TrainingSettings) -> Any:
    if settings.optimizer == "adamw8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(params, lr=settings.learning_rate, weight_decay=1e-2)
    return torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=1e-2)
