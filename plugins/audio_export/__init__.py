"""Audio exporters: WAV, FLAC, MP3 and AAC in M4A.

Every sound Atelier writes goes through `encoding.write_audio`, which pipes the samples
into the ffmpeg that imageio-ffmpeg ships; the exporters here write a job's AudioData
with it, its tags and its provenance record.
"""

from plugins.api import Exporter, Plugin

FORMATS = (
    ("wav", "WAV audio (16-bit PCM)"),
    ("flac", "FLAC audio (lossless)"),
    ("mp3", "MP3 audio"),
    ("m4a", "AAC audio (M4A)"),
)

plugin = Plugin(
    id="audio_export",
    version="0.1.0",
    title="Audio export",
    exporters=tuple(
        Exporter(
            id=f"audio_export.{kind}",
            title=title,
            output="audio",
            suffixes=(f".{kind}",),
            write="plugins.audio_export.exporters:write",
        )
        for kind, title in FORMATS
    ),
)
