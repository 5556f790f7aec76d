"""Atelier's application: the Qt-free document model (app.model) and the PySide6 GUI (app.ui)."""
