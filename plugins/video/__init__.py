"""The video plugin: clips from a prompt (AnimateDiff, Wan, CogVideoX) and from a still
(Stable Video Diffusion, or AnimateDiff on the still)."""

from plugins.api import Plugin, Task
from plugins.video.families import FAMILIES
from plugins.video.params import (
    ImageToVideoParams,
    TextToVideoParams,
    validate_image_to_video,
    validate_text_to_video,
)

TEXT_TO_VIDEO = Task(
    id="video.text_to_video",
    version=1,
    title="Text to video",
    params_type=TextToVideoParams,
    runner="plugins.video.text_to_video:run",
    prepare="plugins.video.text_to_video:prepare",
    validate=validate_text_to_video,
    output="video",
    tip="Make a short clip from the prompt (AnimateDiff on the checkpoint).",
    request="plugins.video.requests:text_to_video",
    order=60,
    cli="video",
)
IMAGE_TO_VIDEO = Task(
    id="video.image_to_video",
    version=1,
    title="Image to video",
    params_type=ImageToVideoParams,
    runner="plugins.video.image_to_video:run",
    prepare="plugins.video.image_to_video:prepare",
    validate=validate_image_to_video,
    inputs=("image",),
    output="video",
    tip="Set the canvas (or the selection) moving: Stable Video Diffusion, else AnimateDiff.",
    request="plugins.video.requests:image_to_video",
    order=70,
    cli="animate",
)

plugin = Plugin(
    id="video",
    version="0.1.0",
    title="Video",
    tasks=(TEXT_TO_VIDEO, IMAGE_TO_VIDEO),
    families=FAMILIES,
)
