"""Settings: file, then environment; every key documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import ConfigError, load_settings
from monitor.settings import SETTINGS

from .conftest import ROOT


def write(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    path = config / "monitor.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_are_relative_to_the_project_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/data/monitor.sqlite3"
    assert settings.catalogue == tmp_path.resolve() / "config" / "commitments.toml"
    assert settings.timezone.key == "UTC"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[display]\ntimezone = "Asia/Tokyo"\n')
    settings = load_settings(
        path,
        env={"MONITOR_TIMEZONE": "America/New_York", "MONITOR_DATABASE_URL": "postgresql://u@h/db"},
    )
    assert settings.timezone.key == "America/New_York"
    assert settings.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[display]\ntimezone = "Nowhere/Else"\n', "display.timezone"),
        ("[display]\ncolour = 'red'\n", "unknown key display.colour"),
        ("[databse]\n", "unknown table [databse]"),
        ("[paths]\ndata_dir = true\n", "paths.data_dir must be a string"),
        ("[poll]\nread_timeout = -1\n", "poll.read_timeout"),
        ("[poll]\nconcurrency = 'many'\n", "poll.concurrency"),
        ("[paths\n", "not valid TOML"),
        ('[database]\nsqlite_synchronous = "off"\n', "database.sqlite_synchronous"),
    ],
)
def test_bad_configuration_is_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(write(tmp_path, body), env={})


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.name}`" in doc, setting.name
        assert f"`{setting.env}`" in doc, setting.env
