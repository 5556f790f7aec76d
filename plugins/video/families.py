"""The model families the video plugin loads: AnimateDiff motion adapters (added to an
SD 1.x checkpoint) and SparseCtrl models (steering them with frames), Stable Video
Diffusion, and Wan and CogVideoX pipelines when their folders are installed. Motion LoRAs
(family "motion_lora") are read by plugins.video.motion_loras, not loaded as models.

Torch-free (the registry imports it); the loaders are named as strings and imported on
the engine thread.
"""

from plugins.api import ModelFamily

MOTION = ModelFamily(
    "motion", "AnimateDiff motion adapter", "motion", "plugins.video.motion:load_motion_adapter"
)
SPARSECTRL = ModelFamily(
    "sparsectrl", "SparseCtrl", "motion", "plugins.video.sparse_control:load_sparse_control"
)
PIPELINE_LOADER = "plugins.video.video_models:load_video_pipeline"
SVD = ModelFamily("svd", "Stable Video Diffusion", "video", PIPELINE_LOADER)
WAN = ModelFamily("wan", "Wan", "video", PIPELINE_LOADER)
COGVIDEOX = ModelFamily("cogvideox", "CogVideoX", "video", PIPELINE_LOADER)
FAMILIES = (MOTION, SPARSECTRL, SVD, WAN, COGVIDEOX)
BY_ID = {family.id: family for family in FAMILIES}
