"""Export a logged or registered model into a self-contained folder that loads without MLflow.

    python -m tracking.export --model-uri models:/hypercl-csts-minilm@champion --output-dir out/
    python -m tracking.export --model-uri models:/hypercl-csts-minilm/3 --output-dir out/ \\
        --data-dir ../data/csts --password-file ../data/csts/password.txt

The folder contains ``config.json``, ``encoder/`` (weights and tokenizer, safetensors),
``head.safetensors``, a model card ``README.md`` and, for C-STS with ``--data-dir``,
``test_predictions.json`` (``{"0": score, ...}`` in test-file order). ``hypercl.load(folder)``
reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tracking import pyfunc_model
from tracking.model_card import ModelCard, render_model_card
from tracking.registry import (
    DATA_DIGEST_TAG,
    METRIC_TAG_PREFIX,
    PARENT_RUN_TAG,
)
from tracking.store import resolve_tracking_uri

logger = logging.getLogger(__name__)

MODEL_URI_FORMS = ("models:/NAME@ALIAS", "models:/NAME/VERSION", "runs:/RUN_ID/PATH")
PREDICTIONS_FILE = "test_predictions.json"
CARD_FILE = "README.md"
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_RUN_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+)$")


@dataclass
class _Source:
    """The location of an MLflow model, and what the registry stores about it."""

    run_id: str | None
    artifact_path: str | None  # relative to the run's artifact root, when run_id is set
    artifact_uri: str | None  # used when the model is not inside a run
    name: str | None = None
    version: str | None = None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] | None = None


def export_model(
    model_uri: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    force: bool = False,
    data_dir: str | Path | None = None,
    password_file: str | Path | None = None,
) -> Path:
    """Write the model at ``model_uri`` into ``output_dir`` (see the module docstring).

    A non-empty ``output_dir`` is rejected unless ``force`` is set. Even with ``force``, only a
    previous model folder (one that contains config.json) is replaced, never other content.
    """
    output_dir = Path(output_dir).expanduser().resolve()
    check_output_dir(output_dir, force)
    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(uri)
    source = _resolve_source(client, model_uri)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.export-", dir=output_dir.parent))
    try:
        folder = staging / "folder"
        _download_model_folder(uri, source, staging / "download", folder)
        config = json.loads((folder / "config.json").read_text())

        if data_dir is not None:
            _write_test_predictions(folder, config.get("task"), data_dir, password_file)
        card = _model_card(client, model_uri, source, config, folder)
        (folder / CARD_FILE).write_text(render_model_card(card))

        _replace_folder(folder, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    logger.info("exported %s to %s", model_uri, output_dir)
    return output_dir


def check_output_dir(output_dir: Path, force: bool) -> None:
    """Raise ``ValueError`` unless ``output_dir`` may be written (see ``export_model``)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"--output-dir {output_dir} is a file; pass a folder path")
    if not output_dir.is_dir() or not any(output_dir.iterdir()):
        return

    if not force:
        raise ValueError(
            f"--output-dir {output_dir} is not empty; pass --force to replace it, or choose "
            "an empty or new folder"
        )
    if not (output_dir / "config.json").is_file():
        raise ValueError(
            f"--output-dir {output_dir} is not empty and is not a model folder (no "
            "config.json), so --force does not delete it; choose an empty or new folder"
        )


def parse_model_uri(model_uri: str) -> dict[str, str]:
    """Split a model URI into its parts: name and alias, name and version, or run id and path."""
    for pattern in (_ALIAS_URI, _VERSION_URI, _RUN_URI):
        match = pattern.match(model_uri)
        if match:
            return match.groupdict()
    raise ValueError(
        f"invalid --model-uri {model_uri!r}; use one of {', '.join(MODEL_URI_FORMS)}, for "
        "example models:/hypercl-csts-minilm@champion"
    )


def _resolve_source(client: MlflowClient, model_uri: str) -> _Source:
    parts = parse_model_uri(model_uri)
    if "run_id" in parts:
        return _Source(run_id=parts["run_id"], artifact_path=parts["path"], artifact_uri=None)

    if "alias" in parts:
        version = client.get_model_version_by_alias(parts["name"], parts["alias"])
    else:
        version = client.get_model_version(parts["name"], parts["version"])
    download_uri = client.get_model_version_download_uri(version.name, version.version)

    # A model logged in a run is downloaded through the run, because that works for every
    # artifact store the client can reach. Any other source is downloaded by its URI.
    run_id, artifact_path = None, None
    if version.run_id:
        run_root = client.get_run(version.run_id).info.artifact_uri.rstrip("/")
        if download_uri.startswith(run_root + "/"):
            run_id, artifact_path = version.run_id, download_uri[len(run_root) + 1 :]
    return _Source(
        run_id=run_id,
        artifact_path=artifact_path,
        artifact_uri=None if run_id else download_uri,
        name=version.name,
        version=str(version.version),
        aliases=tuple(version.aliases),
        tags=dict(version.tags),
    )


def _download_model_folder(
    tracking_uri: str, source: _Source, download_dir: Path, folder: Path
) -> None:
    """Copy the hypercl model folder out of the MLflow model into ``folder``."""
    download_dir.mkdir(parents=True)
    location = source.artifact_uri
    if source.run_id is not None:
        location = f"runs:/{source.run_id}/{source.artifact_path}"
    try:
        mlmodel_path = _download(tracking_uri, source, "MLmodel", download_dir)
    except MlflowException as error:
        raise ValueError(
            f"no MLflow model found at {location}: {error.message}. Check --model-uri; a "
            "model logged by register_best is at runs:/RUN_ID/model."
        ) from error
    mlmodel = yaml.safe_load(Path(mlmodel_path).read_text())
    artifacts = mlmodel.get("flavors", {}).get("python_function", {}).get("artifacts") or {}
    if pyfunc_model.MODEL_ARTIFACT not in artifacts:
        raise ValueError(
            f"the MLflow model at {location} has no "
            f"artifact {pyfunc_model.MODEL_ARTIFACT!r}: it was not logged by "
            "tracking.registry.register_best, so it contains no hypercl model folder"
        )

    relative = artifacts[pyfunc_model.MODEL_ARTIFACT]["path"]
    local = _download(tracking_uri, source, relative, download_dir)
    shutil.copytree(local, folder)


def _download(tracking_uri: str, source: _Source, subpath: str, download_dir: Path) -> str:
    if source.run_id is not None:
        return mlflow.artifacts.download_artifacts(
            run_id=source.run_id,
            artifact_path=f"{source.artifact_path}/{subpath}",
            dst_path=str(download_dir),
            tracking_uri=tracking_uri,
        )
    return mlflow.artifacts.download_artifacts(
        artifact_uri=f"{source.artifact_uri.rstrip('/')}/{subpath}",
        dst_path=str(download_dir),
        tracking_uri=tracking_uri,
    )


def _write_test_predictions(
    folder: Path, task: str | None, data_dir: str | Path, password_file: str | Path | None
) -> None:
    import hypercl

    if task != "csts":
        raise ValueError(
            f"--data-dir writes C-STS test predictions, but this model was trained for task "
            f"{task!r}; leave --data-dir out"
        )
    model = hypercl.load(folder)
    password = None if password_file is None else str(password_file)
    model.write_test_predictions(data_dir, folder / PREDICTIONS_FILE, password_file=password)


def _model_card(
    client: MlflowClient, model_uri: str, source: _Source, config: dict, folder: Path
) -> ModelCard:
    tags = source.tags or {}
    run = client.get_run(source.run_id) if source.run_id else None
    metrics = {
        key[len(METRIC_TAG_PREFIX) :]: float(value)
        for key, value in tags.items()
        if key.startswith(METRIC_TAG_PREFIX)
    }
    if not metrics and run is not None:
        metrics = dict(run.data.metrics)

    return ModelCard(
        model_uri=model_uri,
        task=config.get("task", "csts"),
        config=config,
        registered_model=source.name,
        version=source.version,
        aliases=list(source.aliases),
        space=tags.get("space"),
        metric=tags.get("metric"),
        mode=tags.get("mode"),
        data_digest=tags.get(DATA_DIGEST_TAG)
        or (run.data.tags.get(DATA_DIGEST_TAG) if run else None),
        metrics=metrics,
        hyperparameters=dict(run.data.params) if run else {},
        run_id=source.run_id,
        parent_run_id=tags.get(PARENT_RUN_TAG)
        or (run.data.tags.get("mlflow.parentRunId") if run else None),
        condition_encoder=(folder / "condition_encoder").is_dir(),
        test_predictions=(folder / PREDICTIONS_FILE).is_file(),
    )


def _replace_folder(folder: Path, output_dir: Path) -> None:
    """Move ``folder`` to ``output_dir``, deleting a previous ``output_dir`` after the move."""
    old = None
    if output_dir.exists():
        old = output_dir.with_name(f".{output_dir.name}.replaced")
        shutil.rmtree(old, ignore_errors=True)
        output_dir.rename(old)
    folder.rename(output_dir)
    if old is not None:
        shutil.rmtree(old)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tracking.export",
        description="Export a logged or registered hypercl model into a self-contained folder.",
    )
    parser.add_argument(
        "--model-uri",
        required=True,
        help=f"the model to export: {', '.join(MODEL_URI_FORMS)}",
    )
    parser.add_argument("--output-dir", required=True, type=Path, help="folder to write")
    parser.add_argument(
        "--force", action="store_true", help="replace --output-dir if it contains a model folder"
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: sqlite:///<cwd>/mlflow.db)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="C-STS folder (CSV files or csts.tar.enc); writes test_predictions.json",
    )
    parser.add_argument(
        "--password-file",
        default=None,
        help="file with the C-STS archive password (default: DATA_DIR/password.txt)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        output_dir = export_model(
            args.model_uri,
            args.output_dir,
            tracking_uri=args.tracking_uri,
            force=args.force,
            data_dir=args.data_dir,
            password_file=args.password_file,
        )
    except (ValueError, MlflowException) as error:
        parser.error(error.message if isinstance(error, MlflowException) else str(error))
    print(output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
