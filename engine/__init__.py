"""Atelier's in-process engine: one worker thread that owns torch and the models.

Importing this package does not import torch; task code imports it lazily.
"""
