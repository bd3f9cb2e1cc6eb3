"""Headless engine: image -> predictions -> edits -> composite (no Qt here)."""
