"""Watched folders: new photos are found and tagged in the background."""
