"""instance.toml: valid files load, invalid ones fail naming file, key and expectation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from instance_config import (
    Config,
    ConfigError,
    example_text,
    is_loopback_domain,
    load_config,
    parse_config,
    render_config,
)

MINIMAL = '[instance]\ndomain = "video.example.org"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "instance.toml"
    path.write_text(text)
    return path


def test_minimal_file_gets_safe_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.instance.domain == "video.example.org"
    assert config.instance.registrations == "closed"
    assert config.base_url == "https://video.example.org"
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/fedisora.db"
    assert config.media_dir == tmp_path.resolve() / "media"
    assert config.federation.dev is False
    assert config.generation.enabled is False
    assert config.moderation.ai_content == "allow"


def test_example_file_is_valid_and_documents_every_setting() -> None:
    config = parse_config(example_text(), env={})
    assert isinstance(config, Config)
    written = tomllib.loads(example_text())
    for section, field in Config.model_fields.items():
        if section == "path":
            continue
        model = field.annotation
        assert section in written, f"[{section}] missing from the example"
        assert set(written[section]) == set(model.model_fields), f"[{section}] keys differ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "colour = 'blue'\n", "instance.colour: unknown key"),
        (MINIMAL + "[server]\nport = 'eighty'\n", "server.port: expected a valid integer"),
        (MINIMAL + "[server]\nport = 70000\n", "server.port: expected less than or equal to 65535"),
        (MINIMAL + "[servr]\nport = 1\n", "servr: unknown key"),
        (MINIMAL + "registrations = 'maybe'\n", "instance.registrations: expected 'open', 'closed' or 'approval'"),
        ("[server]\nport = 80\n", "instance: required key is missing"),
        ('[instance]\ndomain = "https://x.org/"\n', "instance.domain: expected a bare host name"),
        (MINIMAL + "[database]\nurl = 'mysql://x'\n", "database.url: expected a database URL"),
        (MINIMAL + "[federation]\ndev = true\n", "federation.dev = true is only allowed for a loopback domain"),
        (MINIMAL + "[generation]\nenabled = true\n", "generation: model must name a local model"),
        ("[instance\n", "not valid TOML"),
    ],
)
def test_invalid_files_name_file_key_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fedisora init --domain"):
        load_config(tmp_path / "nope.toml", env={})


def test_environment_overrides_and_config_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    env = {
        "FEDISORA_CONFIG": str(path),
        "FEDISORA_SERVER__PORT": "9001",
        "FEDISORA_INSTANCE__LANGUAGES": '["en", "de"]',
        "FEDISORA_INSTANCE__NAME": "Clips & Co",
        "FEDISORA_DATABASE__URL": "postgresql+asyncpg://u@db/fedisora",
    }
    config = load_config(env=env)
    assert config.path == path.resolve()
    assert config.server.port == 9001
    assert config.instance.languages == ["en", "de"]
    assert config.instance.name == "Clips & Co"
    assert config.database_url == "postgresql+asyncpg://u@db/fedisora"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FEDISORA_SERVER__PORT": "x"}, "FEDISORA_SERVER__PORT (environment): server.port"),
        ({"FEDISORA_SERVER__PROT": "1"}, "FEDISORA_SERVER__PROT (environment): server.prot: unknown key"),
        ({"FEDISORA_NOPE__X": "1"}, "FEDISORA_NOPE__X: unknown section 'nope'"),
    ],
)
def test_bad_environment_overrides_name_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, MINIMAL), env=env)
    assert expected in str(caught.value)


def test_rendered_dev_config_round_trips_and_keeps_comments() -> None:
    text = render_config("localhost:8000", dev=True, name="Demo", database_url="sqlite:///x.db")
    config = parse_config(text, env={})
    assert config.base_url == "http://localhost:8000"
    assert config.federation.dev is True
    assert config.instance.name == "Demo"
    assert config.instance.registrations == "open"
    assert config.database.url == "sqlite:///x.db"
    assert "# Development mode" in text  # the admin's file keeps the documentation


@pytest.mark.parametrize(("domain", "port"), [("localhost:18000", 18000), ("127.0.0.1:8001", 8001), ("localhost", 80)])
def test_dev_config_listens_on_its_domains_port(domain: str, port: int) -> None:
    config = parse_config(render_config(domain, dev=True), env={})
    assert config.server.port == port
    assert config.base_url == f"http://{domain}"


def test_production_render_is_https_and_not_dev() -> None:
    config = parse_config(render_config("video.example.org"), env={})
    assert config.base_url == "https://video.example.org"
    assert not config.federation.dev


@pytest.mark.parametrize(
    ("domain", "loopback"),
    [
        ("localhost", True),
        ("localhost:8000", True),
        ("a.localhost:1", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("example.org", False),
        ("10.0.0.1", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_domains(domain: str, loopback: bool) -> None:
    assert is_loopback_domain(domain) is loopback


@pytest.mark.parametrize(
    ("host", "blocked"),
    [
        ("spam.example", True),
        ("SPAM.example", True),
        ("a.b.spam.example:8443", True),
        ("notspam.example", False),
        ("spam.example.org", False),
        ("ok.example", False),
    ],
)
def test_blocking_a_domain_blocks_its_subdomains(host: str, blocked: bool) -> None:
    config = parse_config(MINIMAL + "[moderation]\nblocked_domains = ['Spam.example']\n", env={})
    assert config.moderation.is_blocked(host) is blocked
    assert config.moderation.is_limited(host) is False
