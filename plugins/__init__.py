"""Atelier's features as plugins, the built-ins included (docs/DESIGN.md section 7)."""
