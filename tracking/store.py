"""Tracking URIs and experiments: the embedded SQLite default, validation and the UI command.

Without ``--tracking-uri`` a search writes to ``sqlite:///<cwd>/mlflow.db`` and keeps
artifacts in ``<cwd>/mlartifacts``. Relative SQLite and ``file:`` paths are made absolute here,
because Ray trial processes run in other working directories and would otherwise open a
second, empty store.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from urllib.parse import urlparse

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

logger = logging.getLogger(__name__)

DATABASE_FILE = "mlflow.db"
ARTIFACTS_FOLDER = "mlartifacts"
UI_PORT = 5000
# Database dialects that SQLAlchemy and MLflow's SQL store accept, besides sqlite.
SERVER_DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
TRACKING_SCHEMES = ("sqlite", "file", "http", "https", *SERVER_DATABASE_SCHEMES)
_SQLITE_PREFIX = "sqlite:///"
_TRACKING_URI_FORMS = (
    "sqlite:///PATH/mlflow.db for a local store, file:PATH for a folder store, "
    "http(s)://HOST:PORT for a tracking server, or a postgresql://, mysql:// or mssql:// "
    "database URL"
)


def default_tracking_uri(cwd: Path | None = None) -> str:
    """Return ``sqlite:///<absolute cwd>/mlflow.db``, the embedded default store."""
    folder = Path.cwd() if cwd is None else Path(cwd)
    return f"{_SQLITE_PREFIX}{(folder / DATABASE_FILE).resolve()}"


def default_artifact_location(cwd: Path | None = None) -> str:
    """Return the ``file://`` URI of ``<absolute cwd>/mlartifacts``, the default artifact root."""
    folder = Path.cwd() if cwd is None else Path(cwd)
    return (folder / ARTIFACTS_FOLDER).resolve().as_uri()


def tracking_scheme(uri: str) -> str:
    """Return the base scheme of a URI: ``postgresql`` for ``postgresql+psycopg2://``."""
    return urlparse(uri).scheme.split("+", 1)[0].lower()


def resolve_tracking_uri(uri: str | None) -> str:
    """Validate a ``--tracking-uri`` value and make local paths absolute.

    ``None`` or a blank value gives ``default_tracking_uri()``. Raises ``ValueError`` naming
    ``--tracking-uri``, the value, the accepted forms and the fix.
    """
    if uri is None or not uri.strip():
        return default_tracking_uri()

    uri = uri.strip()
    scheme = tracking_scheme(uri)
    if scheme not in TRACKING_SCHEMES:
        raise ValueError(
            f"invalid --tracking-uri {uri!r}: scheme {scheme or '(none)'!r} is not one of "
            f"{TRACKING_SCHEMES}. Use {_TRACKING_URI_FORMS}, or leave --tracking-uri out to "
            f"use {default_tracking_uri()}."
        )

    if scheme == "sqlite":
        return _absolute_sqlite_uri(uri)
    if scheme == "file":
        return Path(urlparse(uri).path).expanduser().resolve().as_uri()
    if scheme in ("http", "https") and not urlparse(uri).netloc:
        raise ValueError(
            f"invalid --tracking-uri {uri!r}: a tracking server URI needs a host, for example "
            "http://127.0.0.1:5000."
        )
    return uri.rstrip("/")


def _absolute_sqlite_uri(uri: str) -> str:
    if not uri.startswith(_SQLITE_PREFIX):
        raise ValueError(
            f"invalid --tracking-uri {uri!r}: a SQLite store is written sqlite:///PATH "
            "(three slashes, then a relative path, or four slashes for an absolute one)."
        )

    path = uri[len(_SQLITE_PREFIX) :]
    if path in ("", ":memory:"):
        raise ValueError(
            f"invalid --tracking-uri {uri!r}: an in-memory SQLite store is not shared with the "
            "trial processes. Pass a file, for example sqlite:///mlflow.db."
        )
    return f"{_SQLITE_PREFIX}{Path(path).expanduser().resolve()}"


def artifact_location_for(tracking_uri: str) -> str | None:
    """Return the artifact root for new experiments of a store, or ``None`` for the store's own.

    A SQLite store keeps artifacts in ``mlartifacts/`` beside its database file. A tracking
    server and a ``file:`` store choose their own location. Other databases use
    ``<cwd>/mlartifacts``.
    """
    uri = resolve_tracking_uri(tracking_uri)
    scheme = tracking_scheme(uri)
    if scheme == "sqlite":
        database = Path(uri[len(_SQLITE_PREFIX) :])
        return default_artifact_location(database.parent)
    if scheme in SERVER_DATABASE_SCHEMES:
        return default_artifact_location()
    return None


def ui_command(tracking_uri: str | None) -> str:
    """Return the shell command that shows this store in the MLflow UI, bound to 127.0.0.1."""
    uri = resolve_tracking_uri(tracking_uri)
    if tracking_scheme(uri) in ("http", "https"):
        return f"open {uri}"

    words = ["mlflow", "ui", "--backend-store-uri", uri]
    artifact_root = artifact_location_for(uri)
    if artifact_root is not None:
        words += ["--default-artifact-root", artifact_root]
    words += ["--host", "127.0.0.1", "--port", str(UI_PORT)]
    return shlex.join(words)


def get_or_create_experiment(tracking_uri: str | None, name: str) -> str:
    """Return the id of experiment ``name``, creating it with the store's artifact root.

    Raises ``ValueError`` when an experiment of that name exists but is deleted, because MLflow
    keeps the name reserved until it is restored or garbage-collected.
    """
    if not name or not name.strip():
        raise ValueError(f"invalid experiment name {name!r}: pass a non-empty name")

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            experiment_id = client.create_experiment(
                name, artifact_location=artifact_location_for(uri)
            )
        except MlflowException as error:
            # Another process (a second driver) created it between the lookup and here.
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            experiment = client.get_experiment_by_name(name)
        else:
            logger.info("created MLflow experiment %r (id %s) in %s", name, experiment_id, uri)
            return experiment_id

    if experiment.lifecycle_stage == "deleted":
        raise ValueError(
            f"MLflow experiment {name!r} (id {experiment.experiment_id}) is deleted but its name "
            f"is still reserved. Restore it with `mlflow experiments restore --experiment-id "
            f"{experiment.experiment_id}`, remove it for good with `mlflow gc`, or choose "
            "another experiment name."
        )
    return experiment.experiment_id
