"""The diffusion plugin: text to image (inpaint, img2img and more arrive here later)."""

from plugins.api import Plugin, Task
from plugins.diffusion.params import Txt2ImgParams, validate_txt2img

TXT2IMG = Task(
    id="diffusion.txt2img",
    version=1,
    title="Text to image",
    params_type=Txt2ImgParams,
    runner="plugins.diffusion.txt2img:run",
    validate=validate_txt2img,
)

plugin = Plugin(id="diffusion", version="0.1.0", title="Diffusion", tasks=(TXT2IMG,))
