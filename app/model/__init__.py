"""Qt-free document and session state."""

from PIL import Image

# Every picture is bounded here before it is decoded, from its header: pictures from outside
# by image_files.MAX_IMAGE_PIXELS, a project's layers by the canvas they belong to (up to
# 16384 x 16384). Pillow's own global guard would refuse such a layer of a saved project
# (over 89 megapixels it warns, over 179 it refuses), so it is off.
Image.MAX_IMAGE_PIXELS = None
