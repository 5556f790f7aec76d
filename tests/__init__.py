"""Atelier test suite."""
