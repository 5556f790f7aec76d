"""Video exporters: MP4 (H.264 + AAC), WebM (VP9 + Opus), GIF and PNG sequences.

Every video Atelier writes goes through `encoding.write_video`, which streams frames into
the ffmpeg that imageio-ffmpeg ships; the exporters here write a job's VideoData with it.
"""

from plugins.api import Exporter, Plugin

MP4 = Exporter(
    id="video_export.mp4",
    title="MP4 video (H.264)",
    output="video",
    suffixes=(".mp4",),
    write="plugins.video_export.exporters:write",
)
WEBM = Exporter(
    id="video_export.webm",
    title="WebM video (VP9)",
    output="video",
    suffixes=(".webm",),
    write="plugins.video_export.exporters:write",
)
GIF = Exporter(
    id="video_export.gif",
    title="Animated GIF",
    output="video",
    suffixes=(".gif",),
    write="plugins.video_export.exporters:write",
)
PNG_SEQUENCE = Exporter(
    id="video_export.png_sequence",
    title="PNG sequence (a folder of frames)",
    output="video",
    suffixes=(".png",),
    write="plugins.video_export.exporters:write",
)

plugin = Plugin(
    id="video_export",
    version="0.1.0",
    title="Video export",
    exporters=(MP4, WEBM, GIF, PNG_SEQUENCE),
)
