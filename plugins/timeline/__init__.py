"""The Timeline panel: tracks of video, picture and sound clips cut, played and exported
as one film (the panel, and the export the `atelier export` command shares)."""

from plugins.api import Panel, Plugin

TIMELINE_PANEL = Panel(
    "timeline.editor", "Timeline", "plugins.timeline.ui_panel:make_panel", area="bottom"
)

plugin = Plugin(
    id="timeline",
    version="0.1.0",
    title="Timeline",
    panels=(TIMELINE_PANEL,),
)
