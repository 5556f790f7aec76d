"""Run jobs on ComfyUI servers: text to image, image to image, inpaint and outpaint (with
LoRAs and ControlNets), and image to video (Stable Video Diffusion) translated to graphs of
stock nodes, spread over the servers the designer configured in Settings > Servers, checked
and watermarked here like local results."""

from __future__ import annotations

from plugins.api import Backend, Plugin

REMOTE_TASKS = (
    "diffusion.txt2img",
    "diffusion.img2img",
    "diffusion.inpaint",
    "diffusion.outpaint",
    "video.image_to_video",
)

plugin = Plugin(
    id="comfyui",
    version="1",
    title="ComfyUI servers",
    backends=(
        Backend(
            id="comfyui",
            title="Servers",
            tasks=REMOTE_TASKS,
            targets="plugins.comfyui.servers:targets",
            engine="plugins.comfyui.server_engine:server_engine",
            models="plugins.comfyui.server_info:models",
            settings_page="plugins.comfyui.ui_servers:servers_page",
            cli_flag="--server",
            command="plugins.comfyui.cli_servers:add_command",
            command_name="servers",
        ),
    ),
)
