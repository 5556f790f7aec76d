"""Atelier's features as plugins, the built-ins included (DESIGN.md section 6)."""
