"""The optional local text-to-video generator (torch + diffusers).

Nothing here is imported by the server unless generation is enabled, and this
package itself imports torch only inside the functions that need it, so an
instance without the ``generation`` extra starts and runs fully.
"""

from __future__ import annotations

import importlib.util

REQUIRED_MODULES = ("torch", "diffusers")


def missing_dependencies() -> list[str]:
    """Modules of the ``generation`` extra that are not installed (empty when ready)."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
