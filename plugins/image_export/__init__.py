"""Image exporters: PNG, JPEG and WebP, each with the picture's settings and provenance.

The export dialog and the CLI find them through the registry like any plugin's; the
writers live in `writers` and are imported when a file is written.
"""

from plugins.api import Exporter, Plugin

PNG = Exporter(
    id="image_export.png",
    title="PNG image",
    output="images",
    suffixes=(".png",),
    write="plugins.image_export.writers:write_png",
)
JPEG = Exporter(
    id="image_export.jpeg",
    title="JPEG image",
    output="images",
    suffixes=(".jpg", ".jpeg"),
    write="plugins.image_export.writers:write_jpeg",
)
WEBP = Exporter(
    id="image_export.webp",
    title="WebP image",
    output="images",
    suffixes=(".webp",),
    write="plugins.image_export.writers:write_webp",
)

plugin = Plugin(
    id="image_export",
    version="0.1.0",
    title="Image export",
    exporters=(PNG, JPEG, WEBP),
)
