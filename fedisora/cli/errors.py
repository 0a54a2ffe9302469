"""The one exception type commands raise to end with a one-line message and exit 1."""


class CLIError(Exception):
    """Stop the command: ``str(error)`` is printed as ``fedisora: error: …``."""
