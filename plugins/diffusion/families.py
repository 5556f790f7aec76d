"""The model families the diffusion plugin loads: Stable Diffusion checkpoints.

Torch-free (the registry imports it); the loader is named as a string and imported on
the engine thread.
"""

from plugins.api import ModelFamily

LOADER = "plugins.diffusion.pipelines:load_checkpoint"

SD15 = ModelFamily("sd15", "Stable Diffusion 1.x", "checkpoints", LOADER)
SD2 = ModelFamily("sd2", "Stable Diffusion 2.x", "checkpoints", LOADER)
SDXL = ModelFamily("sdxl", "SDXL", "checkpoints", LOADER)
SDXL_REFINER = ModelFamily("sdxl_refiner", "SDXL refiner", "checkpoints", LOADER)
FAMILIES = (SD15, SD2, SDXL, SDXL_REFINER)
BY_ID = {family.id: family for family in FAMILIES}
