"""The project's one small exception hierarchy; each also subclasses the builtin it resembles."""


class AlprError(Exception):
    """Base of every error this project raises on purpose."""


class ImageError(AlprError, ValueError):
    """An input image is missing, unreadable, empty or absurdly large."""


class ModelError(AlprError, RuntimeError):
    """A recognition model is missing or does not have the expected shape."""


class NotBuiltError(AlprError, NotImplementedError):
    """A feature a later issue delivers; the message says which and what to use meanwhile."""
