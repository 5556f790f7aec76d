"""Data, captions and automatic scoring for Atelier's built-in demo text-to-image model."""
