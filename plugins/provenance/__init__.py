"""Provenance for generated media: invisible watermarks, safety records and metadata.

The plugin object registers the job hook that checks prompts before a job and checks,
watermarks and records every output after it, and the Verify panel. Importing this
package is light: the hook and panel modules are named as strings, loaded when used.
"""

from plugins.api import JobHook, Panel, Plugin

SAFETY_AND_MARKS = JobHook(
    id="provenance.safety_and_marks",
    before="plugins.provenance.marking:before_job",
    after="plugins.provenance.marking:after_job",
    preview="plugins.provenance.marking:check_preview",
)
VERIFY_PANEL = Panel("provenance.verify", "Verify", "plugins.provenance.ui_verify:make_panel")

plugin = Plugin(
    id="provenance",
    version="0.1.0",
    title="Safety and provenance",
    panels=(VERIFY_PANEL,),
    hooks=(SAFETY_AND_MARKS,),
)
