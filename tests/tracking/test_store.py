"""Tests of tracking.store: default URIs, --tracking-uri validation, UI command, experiments."""

from __future__ import annotations

import shlex

import pytest
from mlflow import MlflowClient

from tracking.store import (
    default_artifact_location,
    default_tracking_uri,
    get_or_create_experiment,
    resolve_tracking_uri,
    ui_command,
)


def test_default_tracking_uri_is_absolute_sqlite(tmp_path):
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert default_artifact_location(tmp_path) == (tmp_path / "mlartifacts").resolve().as_uri()


def test_resolve_tracking_uri_none_uses_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert resolve_tracking_uri("  ") == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_resolve_tracking_uri_makes_local_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert resolve_tracking_uri("sqlite:///runs/db.sqlite") == (
        f"sqlite:///{tmp_path.resolve()}/runs/db.sqlite"
    )
    assert resolve_tracking_uri(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"
    assert resolve_tracking_uri("file:store") == (tmp_path / "store").resolve().as_uri()


def test_resolve_tracking_uri_keeps_servers_and_databases():
    assert resolve_tracking_uri("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("https://127.0.0.1:8443") == "https://127.0.0.1:8443"
    database = "postgresql+psycopg2://user@127.0.0.1:5432/mlflow"
    assert resolve_tracking_uri(database) == database


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mlruns", r"--tracking-uri 'mlruns': scheme '\(none\)'"),
        ("ftp://127.0.0.1/x", r"scheme 'ftp' is not one of .*sqlite:///PATH/mlflow.db"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite:///:memory:", "in-memory SQLite store is not shared"),
        ("http://", "needs a host"),
    ],
)
def test_resolve_tracking_uri_rejects_invalid(uri, message):
    with pytest.raises(ValueError, match=message):
        resolve_tracking_uri(uri)


def test_ui_command_local_store(tmp_path):
    command = ui_command(f"sqlite:///{tmp_path}/mlflow.db")

    words = shlex.split(command)
    assert words[:2] == ["mlflow", "ui"]
    assert words[words.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/mlflow.db"
    artifact_root = words[words.index("--default-artifact-root") + 1]
    assert artifact_root == (tmp_path / "mlartifacts").as_uri()
    assert words[words.index("--host") + 1] == "127.0.0.1"
    assert words[words.index("--port") + 1] == "5000"


def test_ui_command_server():
    assert ui_command("http://127.0.0.1:5005") == "open http://127.0.0.1:5005"


def test_get_or_create_experiment_reuses_id(tmp_path, tracking_uri):
    first = get_or_create_experiment(tracking_uri, "study-a")
    second = get_or_create_experiment(tracking_uri, "study-a")
    other = get_or_create_experiment(tracking_uri, "study-b")

    assert first == second
    assert other != first
    location = MlflowClient(tracking_uri).get_experiment(first).artifact_location
    assert location == (tmp_path / "mlartifacts").as_uri()


def test_get_or_create_experiment_rejects_deleted(tracking_uri):
    experiment_id = get_or_create_experiment(tracking_uri, "gone")
    MlflowClient(tracking_uri).delete_experiment(experiment_id)

    with pytest.raises(ValueError, match=rf"'gone' \(id {experiment_id}\) is deleted.*restore"):
        get_or_create_experiment(tracking_uri, "gone")


def test_get_or_create_experiment_rejects_empty_name(tracking_uri):
    with pytest.raises(ValueError, match="invalid experiment name ''"):
        get_or_create_experiment(tracking_uri, "")
