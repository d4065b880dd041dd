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
    config = write(tmp_path, "")
    (config.parent / "commitments.toml").write_text("", encoding="utf-8")
    settings = load_settings(config, env={})
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
        ("[poll]\nallow_private_addresses = 'maybe'\n", "poll.allow_private_addresses"),
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


def test_with_no_project_data_goes_to_the_user_folder_and_the_catalogue_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from any folder: no stray database where the command runs, and the 2023
    statement's catalogue without a config/ folder (issue 13)."""
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    monkeypatch.chdir(anywhere)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # platformdirs on Linux
    settings = load_settings(env={})
    assert settings.config_file is None
    assert settings.data_dir == tmp_path / "xdg" / "monitor"
    assert settings.catalogue.is_file()
    assert "EPCC23-SC-01" in settings.catalogue.read_text(encoding="utf-8")
    # configured paths still win, even where the file is missing (then init says so)
    given = load_settings(env={"MONITOR_DATA_DIR": "here", "MONITOR_CATALOGUE": "mine.toml"})
    assert given.data_dir == anywhere / "here"
    assert given.catalogue == anywhere / "mine.toml"


def test_a_project_without_its_own_catalogue_uses_the_one_that_ships(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text("", encoding="utf-8")
    settings = load_settings(tmp_path / "config" / "monitor.toml", env={})
    assert settings.data_dir == tmp_path / "data"  # a project keeps its data with it
    assert settings.catalogue.read_bytes() == (ROOT / "config" / "commitments.toml").read_bytes()


def test_every_setting_is_shown_with_where_it_came_from(tmp_path: Path) -> None:
    """`monitor config` (issue 13): file, environment or default for every setting, poll,
    SMTP and digest ones included; secrets masked."""
    from monitor.settings import sources_of

    path = write(tmp_path, '[poll]\nconcurrency = 4\n[smtp]\nhost = "mail.example.org"\n')
    env = {
        "MONITOR_DATABASE_URL": "postgresql://monitor:hunter2@db/monitor",
        "MONITOR_SMTP_PASSWORD": "hunter2",
    }
    shown = {s.name: (s.value, s.source) for s in sources_of(path, env)}
    assert {s.name for s in SETTINGS} <= set(shown)
    assert shown["poll.concurrency"] == ("4", "file")
    assert shown["smtp.host"] == ("mail.example.org", "file")
    assert shown["display.timezone"] == ("UTC", "default")
    assert shown["database.database_url"] == ("postgresql://monitor:***@db/monitor", "environment")
    assert shown["smtp.password"] == ("(set)", "environment")
    assert "hunter2" not in repr(shown)
