"""MLflow runs of a search: one parent run per study and one nested run per Ray trial.

Every function takes the tracking URI explicitly and works through ``MlflowClient``, never the
fluent ``mlflow.start_run`` state. A Ray trial runs in another process, so it cannot see a
tracking URI or an active run that the driver set, and it would log to a stray local
``mlruns/`` instead. A trial's run is found again by its ``ray_trial_id`` tag, so a resumed
study continues the same runs instead of creating duplicates.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from mlflow import MlflowClient
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, Run, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID

from tracking.store import get_or_create_experiment, resolve_tracking_uri

logger = logging.getLogger(__name__)

TRIAL_ID_TAG = "ray_trial_id"
TRIAL_NAME_TAG = "ray_trial_name"
TRIAL_STATE_TAG = "trial_state"
TRIAL_STATES = ("running", "completed", "early_stopped", "errored")
END_STATUSES = ("FINISHED", "FAILED", "KILLED")
# Run status for a trial that is still RUNNING in MLflow when the driver records its state.
# ASHA stops a trial by killing its process, so the trial never ends its own run.
STATE_END_STATUS = {"completed": "FINISHED", "early_stopped": "KILLED", "errored": "FAILED"}

# Limits of MLflow's log_batch request and of a param value (MLflow 3.x).
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_VALUE_LENGTH = 6000
# The SQL stores keep a dataset digest in a 36-character column.
MAX_DATASET_DIGEST_LENGTH = 36
SEARCH_PAGE_SIZE = 1000


def start_study_run(
    tracking_uri: str | None,
    experiment_name: str,
    run_name: str,
    tags: Mapping[str, Any],
    params: Mapping[str, Any],
    run_id: str | None = None,
) -> tuple[str, str]:
    """Create the study's parent run, or reopen ``run_id`` to resume; return both ids.

    The return value is ``(experiment_id, run_id)``. Params already on a reopened run are
    kept, because MLflow rejects changing a logged param. A changed value is logged as a
    warning instead.
    """
    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(uri)
    experiment_id = get_or_create_experiment(uri, experiment_name)

    if run_id is None:
        run = client.create_run(experiment_id, run_name=run_name, tags=_string_tags(tags))
        run_id = run.info.run_id
        logger.info("started study run %s (%s) in experiment %s", run_id, run_name, experiment_id)
    else:
        run = _get_study_run(client, uri, run_id)
        if run.info.experiment_id != experiment_id:
            raise ValueError(
                f"run {run_id} belongs to experiment {run.info.experiment_id}, not to "
                f"{experiment_name!r} (id {experiment_id}). Pass the experiment name the study "
                "was started with, or start a new study without a run id."
            )
        _reopen(client, run)
        _set_tags(client, run_id, tags)
        logger.info("reopened study run %s in experiment %s", run_id, experiment_id)

    log_new_params(client, run_id, params)
    return experiment_id, run_id


def end_run(tracking_uri: str | None, run_id: str, status: str = "FINISHED") -> None:
    """End a run (the study's parent run, for example) with an MLflow run status."""
    _check_end_status(status)
    MlflowClient(resolve_tracking_uri(tracking_uri)).set_terminated(run_id, status)


class TrialRun:
    """The nested MLflow run of one Ray trial, created or found again inside the trial process.

    It relies on nothing from the driver but its arguments: the tracking URI, the experiment and
    parent run ids and the trial's id and name.
    """

    def __init__(
        self,
        tracking_uri: str | None,
        experiment_id: str,
        parent_run_id: str,
        trial_id: str,
        trial_name: str,
        params: Mapping[str, Any],
    ) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.client = MlflowClient(self.tracking_uri)
        self.trial_id = trial_id

        existing = _find_child_run(self.client, experiment_id, parent_run_id, trial_id)
        if existing is None:
            tags = {
                MLFLOW_PARENT_RUN_ID: parent_run_id,
                TRIAL_ID_TAG: trial_id,
                TRIAL_NAME_TAG: trial_name,
                TRIAL_STATE_TAG: "running",
            }
            run = self.client.create_run(experiment_id, run_name=trial_name, tags=tags)
            logger.info("created run %s for trial %s", run.info.run_id, trial_id)
        else:
            run = existing
            _reopen(self.client, run)
            self.client.set_tag(run.info.run_id, TRIAL_STATE_TAG, "running")
            logger.info("resumed run %s of trial %s", run.info.run_id, trial_id)

        self.run_id: str = run.info.run_id
        log_new_params(self.client, self.run_id, params)

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Log every numeric value of ``metrics`` at ``step``; other values are skipped."""
        timestamp = int(time.time() * 1000)
        entries = []
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                logger.debug("not logging %s=%r: not a number", key, value)
                continue
            entries.append(Metric(key, float(value), timestamp, int(step)))

        for start in range(0, len(entries), MAX_METRICS_PER_BATCH):
            chunk = entries[start : start + MAX_METRICS_PER_BATCH]
            self.client.log_batch(self.run_id, metrics=chunk)

    def log_dict(self, values: Mapping[str, Any], artifact_file: str) -> None:
        """Write ``values`` as a JSON (or YAML, by extension) artifact of this run."""
        self.client.log_dict(self.run_id, dict(values), artifact_file)

    def set_state(self, state: str) -> None:
        """Tag the trial's state: one of ``TRIAL_STATES``."""
        _check_trial_state(state)
        self.client.set_tag(self.run_id, TRIAL_STATE_TAG, state)

    def end(self, status: str = "FINISHED") -> None:
        """End the run with an MLflow run status: FINISHED, FAILED or KILLED."""
        _check_end_status(status)
        self.client.set_terminated(self.run_id, status)


def find_trial_runs(tracking_uri: str | None, parent_run_id: str) -> dict[str, str]:
    """Return the nested runs of a study run by Ray trial id: {trial_id: run_id}."""
    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    runs = {}
    for run in _iter_child_runs(client, experiment_id, parent_run_id):
        trial_id = run.data.tags.get(TRIAL_ID_TAG)
        if trial_id is not None:
            runs.setdefault(trial_id, run.info.run_id)
    return runs


def set_trial_states(
    tracking_uri: str | None, parent_run_id: str, states: Mapping[str, str]
) -> None:
    """Tag each trial's final state and end its run if it is still RUNNING.

    ``states`` maps Ray trial ids to ``TRIAL_STATES``. A run still RUNNING ends as FINISHED
    (completed), KILLED (early_stopped) or FAILED (errored), since a process that Ray killed
    could not end it. Trials without a run are logged as warnings.
    """
    for state in states.values():
        _check_trial_state(state)

    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    runs = find_trial_runs(tracking_uri, parent_run_id)
    for trial_id, state in states.items():
        run_id = runs.get(trial_id)
        if run_id is None:
            logger.warning(
                "trial %s has no MLflow run under study run %s", trial_id, parent_run_id
            )
            continue

        client.set_tag(run_id, TRIAL_STATE_TAG, state)
        status = client.get_run(run_id).info.status
        if status == "RUNNING" and state in STATE_END_STATUS:
            client.set_terminated(run_id, STATE_END_STATUS[state])


def log_dataset(
    run_id: str, tracking_uri: str | None, name: str, digest: str, sizes: Mapping[str, int]
) -> None:
    """Record which data a run used as an MLflow dataset input, by name, digest and row counts.

    Only metadata is logged, never rows of the data set: the C-STS terms forbid sharing them.
    """
    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    dataset = _SizedMetaDataset(
        source=CodeDatasetSource({"digest": digest}),
        name=name,
        digest=digest[:MAX_DATASET_DIGEST_LENGTH],
        sizes={split: int(rows) for split, rows in sizes.items()},
    )
    tags = [InputTag(MLFLOW_DATASET_CONTEXT, "training")]
    tags += [InputTag(f"rows.{split}", str(int(rows))) for split, rows in sizes.items()]
    client.log_inputs(run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags)])


class _SizedMetaDataset(MetaDataset):
    """A metadata-only dataset whose profile is its row count per split."""

    def __init__(self, source, name: str, digest: str, sizes: dict[str, int]) -> None:
        self._sizes = sizes
        super().__init__(source=source, name=name, digest=digest)

    @property
    def profile(self) -> dict[str, Any]:
        return {
            "num_rows": sum(self._sizes.values()),
            **{f"rows_{k}": v for k, v in self._sizes.items()},
        }

    def to_dict(self) -> dict[str, str]:
        values = super().to_dict()
        values["profile"] = json.dumps(self.profile)
        return values


def log_new_params(client: MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    """Log the params not yet on the run; a changed value is kept as it was and warned about."""
    existing = client.get_run(run_id).data.params
    new = {}
    for key, value in params.items():
        text = _param_text(key, value)
        if key not in existing:
            new[key] = text
        elif existing[key] != text:
            logger.warning(
                "param %s of run %s stays %r: MLflow cannot change a logged param (new value %r)",
                key,
                run_id,
                existing[key],
                text,
            )

    entries = [Param(key, value) for key, value in new.items()]
    for start in range(0, len(entries), MAX_PARAMS_PER_BATCH):
        client.log_batch(run_id, params=entries[start : start + MAX_PARAMS_PER_BATCH])


def _param_text(key: str, value: Any) -> str:
    # str() as mlflow.log_params does it; JSON for containers, which str() would print as Python.
    is_container = isinstance(value, Mapping | list | tuple)
    text = json.dumps(value, default=str) if is_container else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        logger.warning(
            "param %s is %d characters long; MLflow keeps the first %d",
            key,
            len(text),
            MAX_PARAM_VALUE_LENGTH,
        )
        text = text[:MAX_PARAM_VALUE_LENGTH]
    return text


def _get_study_run(client: MlflowClient, uri: str, run_id: str) -> Run:
    try:
        return client.get_run(run_id)
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        raise ValueError(
            f"study run {run_id} not found in {uri}. Resume with the --tracking-uri that the "
            "study was started with, or start a new study without a run id."
        ) from error


def _string_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in tags.items()}


def _set_tags(client: MlflowClient, run_id: str, tags: Mapping[str, Any]) -> None:
    entries = [RunTag(key, value) for key, value in _string_tags(tags).items()]
    if entries:
        client.log_batch(run_id, tags=entries)


def _reopen(client: MlflowClient, run: Run) -> None:
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
        client.update_run(run.info.run_id, status="RUNNING")


def _iter_child_runs(
    client: MlflowClient, experiment_id: str, parent_run_id: str, extra_filter: str = ""
) -> Iterator[Run]:
    """Yield the active nested runs of ``parent_run_id``, oldest first, page by page."""
    filter_string = f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'{extra_filter}"
    page_token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            max_results=SEARCH_PAGE_SIZE,
            order_by=["attributes.start_time ASC"],
            page_token=page_token,
        )
        yield from page
        page_token = page.token
        if not page_token:
            return


def _find_child_run(
    client: MlflowClient, experiment_id: str, parent_run_id: str, trial_id: str
) -> Run | None:
    if "'" in trial_id:
        raise ValueError(
            f"invalid Ray trial id {trial_id!r}: it must not contain a single quote, which "
            "MLflow's run filter cannot express"
        )

    extra_filter = f" and tags.{TRIAL_ID_TAG} = '{trial_id}'"
    runs = list(_iter_child_runs(client, experiment_id, parent_run_id, extra_filter))
    if len(runs) > 1:
        logger.warning(
            "trial %s has %d runs under study run %s; using the oldest, %s",
            trial_id,
            len(runs),
            parent_run_id,
            runs[0].info.run_id,
        )
    return runs[0] if runs else None


def _check_trial_state(state: str) -> None:
    if state not in TRIAL_STATES:
        raise ValueError(f"invalid trial state {state!r}; choose one of {TRIAL_STATES}")


def _check_end_status(status: str) -> None:
    if status not in END_STATUSES:
        raise ValueError(f"invalid run status {status!r}; choose one of {END_STATUSES}")
