"""Loading and validating the admin's ``instance.toml``.

Pure: imports nothing from fedisora, so tools and tests can check a
configuration without the server.
"""

from .loader import (
    DEFAULT_CONFIG_PATH,
    ENV_CONFIG_PATH,
    ConfigError,
    default_config_path,
    load_config,
    parse_config,
)
from .schema import Config, domain_covers, is_loopback_domain, parent_domains, split_host_port
from .template import EXAMPLE_PATH, example_text, render_config

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_CONFIG_PATH",
    "EXAMPLE_PATH",
    "Config",
    "ConfigError",
    "default_config_path",
    "domain_covers",
    "example_text",
    "is_loopback_domain",
    "load_config",
    "parent_domains",
    "parse_config",
    "render_config",
    "split_host_port",
]
