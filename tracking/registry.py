"""Model Registry: log the best model folder as a pyfunc model, register it, move ``champion``.

Each search registers its best checkpoint as a new version of ``hypercl-<task>-<space>``. The
alias ``champion`` moves to the new version only if its metric strictly beats the current
champion's in the direction of ``mode`` AND both were evaluated on the same data (equal data
digests). Scores on different data are not comparable, so a version trained or validated on
other data never takes the alias automatically, whatever its score. ``Registration.reason``
gives the reason for the decision. Aliases replace the deprecated registry stages.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array

from tracking import pyfunc_model
from tracking.store import resolve_tracking_uri

logger = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
MODES = ("max", "min")
TASKS = ("csts", "kgc")
MODEL_ARTIFACT_PATH = "model"
# Version tags; metric values are tagged as "metric.<name>".
METRIC_TAG_PREFIX = "metric."
DATA_DIGEST_TAG = "data_digest"
TRIAL_RUN_TAG = "trial_run_id"
PARENT_RUN_TAG = "parent_run_id"
# Distributions that the model needs at inference, pinned to the installed versions.
REQUIRED_DISTRIBUTIONS = (
    "mlflow",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "huggingface_hub",
    "numpy",
    "pandas",
    "scipy",
    "pyarrow",
    "tqdm",
    "cryptography",
)
CSTS_EXAMPLE = pd.DataFrame(
    {
        "sentence1": ["A man is playing a guitar on a stage."],
        "sentence2": ["A woman is singing into a microphone."],
        "condition": ["The number of people."],
    }
)


@dataclass
class Registration:
    """The registered version and what happened to the ``champion`` alias, with the reason."""

    name: str
    version: str
    champion_moved: bool
    champion_version: str | None
    reason: str


def registered_model_name(task: str, space: str) -> str:
    """Return the registered model name of a task and search space: ``hypercl-<task>-<space>``."""
    return f"hypercl-{task}-{space}"


def register_best(
    tracking_uri: str | None,
    model_dir: Path,
    *,
    task: str,
    space: str,
    metric: str,
    mode: str,
    metrics: dict[str, float],
    data_digest: str,
    parent_run_id: str,
    trial_run_id: str | None,
    input_example: pd.DataFrame | None = None,
) -> Registration:
    """Log ``model_dir`` as a pyfunc model, register a new version and decide on ``champion``.

    The model is logged in the trial's run, or in the parent run when ``trial_run_id`` is None.
    """
    model_dir = Path(model_dir)
    _check_arguments(model_dir, task, metric, mode, metrics)
    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    run_id = trial_run_id or parent_run_id
    name = registered_model_name(task, space)

    source = log_pyfunc_model(client, run_id, model_dir, task, input_example)
    _create_registered_model(client, name, task, space)
    tags = {
        "task": task,
        "space": space,
        "metric": metric,
        "mode": mode,
        DATA_DIGEST_TAG: data_digest,
        TRIAL_RUN_TAG: trial_run_id or "",
        PARENT_RUN_TAG: parent_run_id,
        **{f"{METRIC_TAG_PREFIX}{key}": repr(float(value)) for key, value in metrics.items()},
    }
    version = client.create_model_version(
        name,
        source,
        run_id=run_id,
        tags=tags,
        description=f"Best trial of study run {parent_run_id}: {metric} = {metrics[metric]:.4f}",
    )

    version_number = str(version.version)
    registration = _decide_champion(
        client, name, version_number, metric, mode, float(metrics[metric]), data_digest
    )
    if registration.champion_moved:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, version_number)
    logger.info("registered %s version %s: %s", name, version_number, registration.reason)
    return registration


def log_pyfunc_model(
    client: MlflowClient,
    run_id: str,
    model_dir: Path,
    task: str,
    input_example: pd.DataFrame | None = None,
) -> str:
    """Save ``model_dir`` as an MLflow pyfunc model, log it in the run and return its URI.

    The hypercl source is copied into the MLflow model (``code/hypercl``), so loading it needs
    the pinned pip requirements but not an installed hypercl-tune.
    """
    artifact_path = _free_artifact_path(client, run_id)
    if input_example is None and task == "csts":
        input_example = CSTS_EXAMPLE
    if input_example is None and task == "kgc":
        input_example = kgc_example(model_dir)

    with tempfile.TemporaryDirectory(prefix="hypercl-pyfunc-") as tmp:
        code_dir = Path(tmp) / "code" / "hypercl"
        shutil.copytree(_hypercl_source(), code_dir, ignore=shutil.ignore_patterns("__pycache__"))
        local_path = Path(tmp) / "model"
        mlflow.pyfunc.save_model(
            path=str(local_path),
            python_model=pyfunc_model.__file__,
            artifacts={pyfunc_model.MODEL_ARTIFACT: str(model_dir)},
            code_paths=[str(code_dir)],
            pip_requirements=pip_requirements(),
            signature=model_signature(task),
            input_example=input_example,
            mlflow_model=Model(artifact_path=artifact_path, run_id=run_id),
            # MLflow lets load_model(model_config=...) override only keys logged here.
            model_config={"device": "cpu"},
        )
        client.log_artifacts(run_id, str(local_path), artifact_path)

    artifact_uri = client.get_run(run_id).info.artifact_uri
    return f"{artifact_uri}/{artifact_path}"


def kgc_example(model_dir: Path) -> pd.DataFrame | None:
    """Return the first training triple's (head, relation) of the model's graph as an example."""
    train = model_dir / "kgc_data" / "train.txt"
    if not train.is_file():
        return None
    with train.open() as handle:
        head, relation, _ = handle.readline().rstrip("\n").split("\t")
    return pd.DataFrame({"head": [head], "relation": [relation]})


def model_signature(task: str) -> ModelSignature:
    """Return the pyfunc signature of a task's model: input columns, output and params."""
    if task == "csts":
        return ModelSignature(
            inputs=Schema([ColSpec("string", column) for column in pyfunc_model.CSTS_COLUMNS]),
            outputs=Schema([ColSpec("double")]),
            params=ParamSchema([ParamSpec("batch_size", "long", pyfunc_model.DEFAULT_BATCH_SIZE)]),
        )

    return ModelSignature(
        inputs=Schema([ColSpec("string", column) for column in pyfunc_model.KGC_COLUMNS]),
        outputs=Schema([ColSpec(Array("string"), "tails"), ColSpec(Array("double"), "scores")]),
        params=ParamSchema([ParamSpec("k", "long", pyfunc_model.DEFAULT_TOP_K)]),
    )


def pip_requirements() -> list[str]:
    """Pin each distribution of ``REQUIRED_DISTRIBUTIONS`` that is installed here.

    Local version labels are dropped (``torch 2.13.0+cpu`` becomes ``torch==2.13.0``), because
    pip cannot resolve them from PyPI.
    """
    requirements = []
    for distribution in REQUIRED_DISTRIBUTIONS:
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
        requirements.append(f"{distribution}=={version.split('+', 1)[0]}")
    return requirements


def _decide_champion(
    client: MlflowClient,
    name: str,
    version: str,
    metric: str,
    mode: str,
    value: float,
    data_digest: str,
) -> Registration:
    aliases = client.get_registered_model(name).aliases
    if CHAMPION_ALIAS not in aliases:
        return Registration(
            name,
            version,
            True,
            version,
            f"no {CHAMPION_ALIAS} yet, so version {version} becomes it",
        )

    champion_version = str(aliases[CHAMPION_ALIAS])
    champion = client.get_model_version(name, champion_version)
    alias_kept = f"alias {CHAMPION_ALIAS} stays on version {champion_version}"
    if champion.tags.get(DATA_DIGEST_TAG) != data_digest:
        return Registration(
            name,
            version,
            False,
            champion_version,
            f"{alias_kept}: it was evaluated on data digest {champion.tags.get(DATA_DIGEST_TAG)}, "
            f"version {version} on {data_digest}, and scores on different data are not "
            f"comparable. To promote version {version} anyway, run "
            f"MlflowClient().set_registered_model_alias({name!r}, {CHAMPION_ALIAS!r}, "
            f"{version!r}).",
        )

    old_text = champion.tags.get(f"{METRIC_TAG_PREFIX}{metric}")
    if old_text is None:
        return Registration(
            name,
            version,
            False,
            champion_version,
            f"{alias_kept}: it has no {metric} tag to compare with",
        )

    old = float(old_text)
    if beats(value, old, mode):
        return Registration(
            name,
            version,
            True,
            version,
            f"{metric} {value:.4f} beats version {champion_version}'s {old:.4f} (mode {mode}), "
            f"so version {version} becomes {CHAMPION_ALIAS}",
        )
    return Registration(
        name,
        version,
        False,
        champion_version,
        f"{alias_kept}: {metric} {value:.4f} does not beat its {old:.4f} (mode {mode})",
    )


def beats(value: float, old: float, mode: str) -> bool:
    """Return whether ``value`` beats ``old`` under ``mode``.

    The comparison is strict, so a tie keeps the champion. A NaN never wins, and any number
    beats a NaN.
    """
    if math.isnan(value):
        return False
    if math.isnan(old):
        return True
    return value > old if mode == "max" else value < old


def _check_arguments(
    model_dir: Path, task: str, metric: str, mode: str, metrics: dict[str, float]
) -> None:
    if task not in TASKS:
        raise ValueError(f"invalid task {task!r}; choose one of {TASKS}")
    if mode not in MODES:
        raise ValueError(f"invalid mode {mode!r}; choose one of {MODES}")
    if metric not in metrics:
        raise ValueError(
            f"metric {metric!r} is not in the metrics to register ({sorted(metrics)}); pass "
            "the value of the study's metric"
        )

    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(
            f"{model_dir} is not a hypercl model folder: {config_path} not found. Pass the "
            "folder that training wrote (config.json, encoder/, head.safetensors)."
        )
    folder_task = json.loads(config_path.read_text()).get("task")
    if folder_task != task:
        raise ValueError(
            f"task {task!r} does not match the model in {model_dir}, which was trained for "
            f"task {folder_task!r}"
        )


def _create_registered_model(client: MlflowClient, name: str, task: str, space: str) -> None:
    try:
        client.create_registered_model(
            name,
            tags={"task": task, "space": space},
            description=(
                f"Hyper-CL {task} models from search space {space}. Alias {CHAMPION_ALIAS} marks "
                "the best version evaluated on the same data."
            ),
        )
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _free_artifact_path(client: MlflowClient, run_id: str) -> str:
    """Return ``model``, or ``model_2``, ``model_3``, ... when the run already has one."""
    existing_paths = {entry.path for entry in client.list_artifacts(run_id)}
    path = MODEL_ARTIFACT_PATH
    index = 2
    while path in existing_paths:
        path = f"{MODEL_ARTIFACT_PATH}_{index}"
        index += 1
    return path


def _hypercl_source() -> Path:
    import hypercl

    return Path(hypercl.__file__).resolve().parent
