"""The PySide6 GUI: the main window, its panels and the bridge to the engine thread.

Nothing here imports torch, diffusers or transformers (DESIGN.md rule 2); the engine thread
imports them when a job runs.
"""
