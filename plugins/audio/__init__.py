"""The Audio panel: the document's sounds (generated music lands there), their waveforms,
playback with a level meter, trim, fades, gain and loudness normalising, export through
the "audio" exporters, and dragging a sound onto the timeline."""

from plugins.api import Panel, Plugin

AUDIO_PANEL = Panel("audio.editor", "Audio", "plugins.audio.ui_panel:make_panel", area="bottom")

plugin = Plugin(
    id="audio",
    version="0.1.0",
    title="Audio",
    panels=(AUDIO_PANEL,),
)
