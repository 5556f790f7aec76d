"""The model families the music plugin loads: MusicGen and MusicGen-melody (transformers
folders, found by their config's model_type), and Stable Audio Open and AudioLDM2 (diffusers
pipeline folders) when their weights are installed. All are of store kind "music".

Torch-free (the registry imports it); the loaders are named as strings and imported on
the engine thread.
"""

from plugins.api import ModelFamily

MUSICGEN_LOADER = "plugins.music.musicgen:load_musicgen"
PIPELINE_LOADER = "plugins.music.audio_pipelines:load_audio_pipeline"
MUSICGEN = ModelFamily("musicgen", "MusicGen", "music", MUSICGEN_LOADER)
MUSICGEN_MELODY = ModelFamily("musicgen_melody", "MusicGen melody", "music", MUSICGEN_LOADER)
STABLE_AUDIO = ModelFamily("stable_audio", "Stable Audio Open", "music", PIPELINE_LOADER)
AUDIOLDM2 = ModelFamily("audioldm2", "AudioLDM2", "music", PIPELINE_LOADER)
FAMILIES = (MUSICGEN, MUSICGEN_MELODY, STABLE_AUDIO, AUDIOLDM2)
BY_ID = {family.id: family for family in FAMILIES}
