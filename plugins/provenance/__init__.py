"""Provenance for generated media: invisible watermarks, safety records and metadata.

The checks and marks themselves (plugins.provenance.marking) are run by the engine on every
job (engine.safety_step), not registered as a job hook a plugin could displace; the plugin
object registers the Verify panel. Importing this package is light: the panel module is
named as a string, loaded when used.
"""

from plugins.api import Panel, Plugin

VERIFY_PANEL = Panel("provenance.verify", "Verify", "plugins.provenance.ui_verify:make_panel")

plugin = Plugin(
    id="provenance",
    version="0.1.0",
    title="Safety and provenance",
    panels=(VERIFY_PANEL,),
)
