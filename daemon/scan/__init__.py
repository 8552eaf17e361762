"""Scanning: extraction of text from files, detection, the per-file pipeline."""
