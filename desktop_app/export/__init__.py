"""Exports: Instagram text, plain text, CSV, XMP sidecars."""
