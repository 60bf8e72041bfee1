"""Hashtags from captions: phrase extraction, Instagram rules, ImageNet tags."""
