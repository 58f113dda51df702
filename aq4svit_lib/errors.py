"""Exceptions raised for bad input.

Every error a user can cause (missing data, a bad checkpoint, an invalid config, a bad
argument) is an :class:`Aq4svitError` with a message written for a human; the CLI prints
the message and exits with :attr:`Aq4svitError.exit_code`, without a traceback.
"""

from __future__ import annotations


class Aq4svitError(Exception):
    """Base class of the package's user-facing errors."""

    exit_code = 2


class DataError(Aq4svitError):
    """A dataset is missing, corrupt or asked for in a way that cannot work."""


class CheckpointError(Aq4svitError):
    """A checkpoint file cannot be read or does not fit the model."""


class ConfigError(Aq4svitError):
    """A quantization config is invalid for the model it is applied to."""


class UsageError(Aq4svitError):
    """An argument is outside what the function or command accepts."""


def choices(values) -> str:
    """Render valid choices for an error message, sorted and comma separated."""
    return ", ".join(str(v) for v in sorted(values, key=str))
