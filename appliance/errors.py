"""The project's one small exception hierarchy; each also subclasses the builtin it resembles."""


class AlprError(Exception):
    """Base of every error this project raises on purpose."""


class ImageError(AlprError, ValueError):
    """An input image is missing, unreadable, empty or absurdly large."""


class ModelError(AlprError, RuntimeError):
    """A recognition model is missing or does not have the expected shape."""


class ConfigError(AlprError, ValueError):
    """The configuration file or an ALPR_* override is invalid; `errors` lists every problem."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors) if errors else [message]


class StoreError(AlprError, RuntimeError):
    """The store cannot do what was asked: closed, newer schema, duplicate read, unusable folder."""


class AccountError(AlprError, ValueError):
    """A user account request is invalid: bad username, short password, unknown role, taken name."""


class EvidenceError(AlprError, ValueError):
    """A legal hold or evidence export request is invalid: unknown read or case, missing reason, released hold."""


class UpdateError(AlprError, RuntimeError):
    """An update bundle was refused (bad signature, damaged, wrong layout) or did not become healthy."""


class SignInError(AlprError, PermissionError):
    """A command-line sign-in was refused (POLICY AC-10): the message says why and what to do."""
