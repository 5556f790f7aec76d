"""A third-party plugin that lives only in the test tree: it proves that a task with its own
params, a panel and an exporter reach the Generate panel, the CLI and the export dialog
through the `atelier.plugins` entry point alone, without a line in app/ or engine/.

Put `tests/plugin_sample` on sys.path (or PYTHONPATH) and `plugins.registry.discover()`
finds it through its dist-info, as it would find an installed package.
"""

from atelier_sample_plugin.params import StripesParams, validate_stripes
from plugins.api import Exporter, Panel, Plugin, Task

STRIPES = Task(
    id="sample.stripes",
    version=1,
    title="Stripes",
    params_type=StripesParams,
    runner="atelier_sample_plugin.stripes:run",
    validate=validate_stripes,
    tip="Paint even stripes in two colours (a sample plugin).",
    cli="stripes",
    request="atelier_sample_plugin.canvas:stripes_request",
    order=900,
)
PPM = Exporter(
    id="sample.ppm",
    title="PPM image",
    output="images",
    suffixes=(".ppm",),
    write="atelier_sample_plugin.ppm:write_ppm",
)

plugin = Plugin(
    id="sample",
    version="0.1.0",
    title="Sample stripes",
    tasks=(STRIPES,),
    panels=(Panel("sample.stripes_panel", "Stripes", "atelier_sample_plugin.panel:make_panel"),),
    exporters=(PPM,),
)
