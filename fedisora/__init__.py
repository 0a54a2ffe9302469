"""fedisora: a self-hostable ActivityPub server for AI-video social media."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fedisora")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

SOFTWARE_NAME = "fedisora"
