"""Typed errors that cross layers; each carries a message a user can act on."""


class HashlensError(Exception):
    """Base class: the message is meant for the user, as is."""


class ImageLoadError(HashlensError):
    """A photo could not be read (missing, empty, truncated, corrupt, not an image, too large)."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read {self.path}: {reason}")


class ModelBundleError(HashlensError):
    """A model bundle is missing, corrupt or from an incompatible version."""


class ModelFileError(ModelBundleError):
    """A shipped model file is missing, damaged, or not the one the model registry lists."""


class LibraryError(HashlensError):
    """The tag library cannot be opened or written (locked, damaged, newer schema)."""
