"""The diffusion plugin: text to image, image to image, inpaint, outpaint and depth maps."""

from plugins.api import Plugin, Task
from plugins.diffusion.families import FAMILIES
from plugins.diffusion.params import (
    DepthParams,
    Img2ImgParams,
    InpaintParams,
    OutpaintParams,
    Txt2ImgParams,
    validate_depth,
    validate_img2img,
    validate_inpaint,
    validate_outpaint,
    validate_txt2img,
)

TXT2IMG = Task(
    id="diffusion.txt2img",
    version=1,
    title="Text to image",
    params_type=Txt2ImgParams,
    runner="plugins.diffusion.txt2img:run",
    prepare="plugins.diffusion.txt2img:prepare",
    validate=validate_txt2img,
    tip="Make new pictures from the prompt.",
    request="plugins.diffusion.requests:txt2img",
    regenerate="plugins.diffusion.requests:regenerate_txt2img",
    region="plugins.diffusion.regions:txt2img_region",
    order=10,
    cli="generate",
)
IMG2IMG = Task(
    id="diffusion.img2img",
    version=1,
    title="Image to image",
    params_type=Img2ImgParams,
    runner="plugins.diffusion.img2img:run",
    prepare="plugins.diffusion.img2img:prepare",
    validate=validate_img2img,
    tip="Repaint the canvas (or the selection) at the chosen strength.",
    request="plugins.diffusion.requests:img2img",
    regenerate="plugins.diffusion.requests:regenerate_img2img",
    region="plugins.diffusion.regions:img2img_region",
    order=20,
    inputs=("image",),
    cli="img2img",
)
INPAINT = Task(
    id="diffusion.inpaint",
    version=1,
    title="Inpaint",
    params_type=InpaintParams,
    runner="plugins.diffusion.inpaint:run",
    prepare="plugins.diffusion.inpaint:prepare",
    validate=validate_inpaint,
    tip="Repaint the selection, or what you painted on a mask layer.",
    request="plugins.diffusion.requests:inpaint",
    regenerate="plugins.diffusion.requests:regenerate_inpaint",
    region="plugins.diffusion.regions:inpaint_region",
    order=30,
    inputs=("image", "mask"),
    cli="inpaint",
)
OUTPAINT = Task(
    id="diffusion.outpaint",
    version=1,
    title="Outpaint",
    params_type=OutpaintParams,
    runner="plugins.diffusion.outpaint:run",
    prepare="plugins.diffusion.outpaint:prepare",
    validate=validate_outpaint,
    tip="Extend the canvas on the chosen sides and fill the new area.",
    request="plugins.diffusion.requests:outpaint",
    regenerate="plugins.diffusion.requests:regenerate_outpaint",
    region="plugins.diffusion.regions:outpaint_region",
    order=40,
    inputs=("image",),
    cli="outpaint",
)
DEPTH = Task(
    id="diffusion.depth",
    version=1,
    title="Depth map",
    params_type=DepthParams,
    runner="plugins.diffusion.depth:run",
    prepare="plugins.diffusion.depth:prepare",
    validate=validate_depth,
    tip="Make the depth map of the canvas (or the selection) with a depth model: near is "
    "white. Turn it into a Depth control layer to steer by it.",
    request="plugins.diffusion.requests:depth_map",
    region="plugins.diffusion.regions:depth_region",
    order=50,
    inputs=("image",),
    cli="depth",
)

plugin = Plugin(
    id="diffusion",
    version="0.1.0",
    title="Diffusion",
    tasks=(TXT2IMG, IMG2IMG, INPAINT, OUTPAINT, DEPTH),
    families=FAMILIES,
)
