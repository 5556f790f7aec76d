"""The model families the diffusion plugin loads: Stable Diffusion checkpoints, the control
models that steer them (ControlNets, ControlNet-Union models, T2I-Adapters), and the depth
models that make depth maps for them (DPT, Depth Anything: transformers folders).

Torch-free (the registry imports it); the loader is named as a string and imported on
the engine thread.
"""

from plugins.api import ModelFamily

LOADER = "plugins.diffusion.pipelines:load_checkpoint"
CONTROL_LOADER = "plugins.diffusion.control_loader:load_control"
DEPTH_LOADER = "plugins.diffusion.depth:load_depth"

SD15 = ModelFamily("sd15", "Stable Diffusion 1.x", "checkpoints", LOADER)
SD2 = ModelFamily("sd2", "Stable Diffusion 2.x", "checkpoints", LOADER)
SDXL = ModelFamily("sdxl", "SDXL", "checkpoints", LOADER)
SDXL_REFINER = ModelFamily("sdxl_refiner", "SDXL refiner", "checkpoints", LOADER)
CONTROLNET = ModelFamily("controlnet", "ControlNet", "controlnet", CONTROL_LOADER)
T2I_ADAPTER = ModelFamily("t2i_adapter", "T2I-Adapter", "controlnet", CONTROL_LOADER)
DPT = ModelFamily("dpt", "DPT", "depth", DEPTH_LOADER)
DEPTH_ANYTHING = ModelFamily("depth_anything", "Depth Anything", "depth", DEPTH_LOADER)
DEPTH_FAMILIES = (DPT, DEPTH_ANYTHING)
FAMILIES = (SD15, SD2, SDXL, SDXL_REFINER, CONTROLNET, T2I_ADAPTER, *DEPTH_FAMILIES)
BY_ID = {family.id: family for family in FAMILIES}
