"""The music plugin: music from a prompt with MusicGen (any length, window by window;
following a melody; continuing a clip), and with Stable Audio Open and AudioLDM2 models
when they are installed."""

from plugins.api import Plugin, Task
from plugins.music.families import FAMILIES
from plugins.music.params import TextToMusicParams, validate_text_to_music

TEXT_TO_MUSIC = Task(
    id="music.text_to_music",
    version=1,
    title="Text to music",
    params_type=TextToMusicParams,
    runner="plugins.music.text_to_music:run",
    prepare="plugins.music.text_to_music:prepare",
    validate=validate_text_to_music,
    output="audio",
    tip="Make music from the prompt (MusicGen; longer pieces window by window).",
    request="plugins.music.requests:text_to_music",
    order=80,
    cli="music",
)

plugin = Plugin(
    id="music",
    version="0.1.0",
    title="Music",
    tasks=(TEXT_TO_MUSIC,),
    families=FAMILIES,
)
