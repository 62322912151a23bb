"""Exceptions shared across stylex."""


class StylexError(Exception):
    """An error caused by the user's input (bad file, bad option, bad run folder).

    The CLI prints its message without a traceback; the message names the cause and, where it
    applies, the file.
    """


class DataError(StylexError):
    """A dataset could not be read or is inconsistent."""


class ClassifierError(StylexError):
    """A classifier could not be loaded or does not fit the data."""


class RunError(StylexError):
    """A run folder is missing, incomplete or incompatible."""


class ImageSpecError(DataError, ValueError):
    """An image resolution or channel count outside what stylex supports (a ``DataError`` for
    data, a ``ValueError`` for model configurations)."""
