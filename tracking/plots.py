"""Study plots, logged to the parent run under ``plots/``: Optuna's views and learning curves.

The Ray trials are rebuilt as an in-memory Optuna study (trials stopped by ASHA become pruned
trials with their intermediate values), so Optuna's own matplotlib plots draw the optimisation
history, the parameter importances and the parallel coordinates. A learning-curve plot of every
trial marks where ASHA stopped a trial. Plots are drawn with the Agg backend, without a display.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import optuna  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from optuna.distributions import (  # noqa: E402
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState  # noqa: E402

from tracking.store import resolve_tracking_uri  # noqa: E402

logger = logging.getLogger(__name__)

MODES = ("max", "min")
PLOT_STATES = ("completed", "early_stopped", "errored", "running")
OPTUNA_STATES = {
    "completed": TrialState.COMPLETE,
    "early_stopped": TrialState.PRUNED,
    "errored": TrialState.FAIL,
}
ARTIFACT_DIR = "plots"
# NOTE: a float parameter whose observed values span at least this ratio is assumed to be
# searched on a log scale. This is a heuristic; pass `distributions` for the exact space.
LOG_SCALE_RATIO = 10.0
DPI = 120


def log_study_plots(
    tracking_uri: str | None,
    parent_run_id: str,
    trials: Sequence[Mapping[str, Any]],
    metric: str,
    mode: str,
    out_dir: Path,
    *,
    time_attr: str = "training_iteration",
    distributions: Mapping[str, BaseDistribution] | None = None,
) -> list[Path]:
    """Write the study plots as PNG files into ``out_dir``, log them and return their paths.

    ``trials`` has one dict per Ray trial: ``trial_id``, ``state`` (one of ``PLOT_STATES``),
    ``config`` ({param: value}) and ``history`` (the reported results, each with ``time_attr``
    and ``metric``). A plot that the trials cannot support is skipped with a logged warning.
    """
    if mode not in MODES:
        raise ValueError(f"invalid mode {mode!r}; choose one of {MODES}")
    for trial in trials:
        if trial.get("state") not in PLOT_STATES:
            raise ValueError(
                f"trial {trial.get('trial_id')} has invalid state {trial.get('state')!r}; "
                f"choose one of {PLOT_STATES}"
            )
    if not trials:
        logger.warning("no trials to plot for study run %s", parent_run_id)
        return []

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    study = build_study(trials, metric, mode, distributions, time_attr=time_attr)
    paths = _optuna_plots(study, metric, out_dir)
    paths.append(
        plot_learning_curves(trials, metric, mode, out_dir / "learning_curves.png", time_attr)
    )

    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    for path in paths:
        client.log_artifact(parent_run_id, str(path), ARTIFACT_DIR)
    return paths


def build_study(
    trials: Sequence[Mapping[str, Any]],
    metric: str,
    mode: str,
    distributions: Mapping[str, BaseDistribution] | None = None,
    *,
    time_attr: str = "training_iteration",
) -> optuna.Study:
    """Rebuild the Ray trials as an in-memory Optuna study; running trials are left out.

    A completed trial's value is its last reported ``metric``, the value that Ray's
    ``OptunaSearch`` gives Optuna, and ``time_attr`` numbers the intermediate values.
    Early-stopped trials are pruned trials that keep their
    intermediate values, and errored trials are failed trials.
    """
    if distributions is None:
        distributions = infer_distributions([trial.get("config", {}) for trial in trials])

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        direction = "maximize" if mode == "max" else "minimize"
        study = optuna.create_study(direction=direction)
    finally:
        optuna.logging.set_verbosity(verbosity)

    for trial in trials:
        frozen = _frozen_trial(trial, metric, distributions, time_attr)
        if frozen is not None:
            study.add_trial(frozen)
    return study


def infer_distributions(configs: Sequence[Mapping[str, Any]]) -> dict[str, BaseDistribution]:
    """Infer a distribution for each parameter that varies across ``configs``.

    Booleans and other non-numeric values become categorical, integers an integer range and
    floats a float range (log scale when the values span ``LOG_SCALE_RATIO`` or more). A
    parameter with a single value was not searched and is left out.
    """
    names = sorted({name for config in configs for name in config})
    distributions: dict[str, BaseDistribution] = {}
    for name in names:
        values = [_plain(config[name]) for config in configs if name in config]
        if len(set(map(repr, values))) < 2:
            continue

        if all(isinstance(value, bool) for value in values):
            distributions[name] = CategoricalDistribution([False, True])
        elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            distributions[name] = IntDistribution(min(values), max(values))
        elif all(_is_number(value) for value in values):
            low, high = float(min(values)), float(max(values))
            log = low > 0 and high / low >= LOG_SCALE_RATIO
            distributions[name] = FloatDistribution(low, high, log=log)
        else:
            choices = sorted(set(values), key=repr)
            distributions[name] = CategoricalDistribution(choices)
    return distributions


def plot_learning_curves(
    trials: Sequence[Mapping[str, Any]],
    metric: str,
    mode: str,
    path: Path,
    time_attr: str = "training_iteration",
) -> Path:
    """Draw every trial's ``metric`` against ``time_attr`` and save it as a PNG at ``path``.

    An ``x`` marks the last result of a trial that ASHA stopped early, a triangle the last
    result of a trial that failed, and the best completed trial is drawn thicker.
    """
    figure = Figure(figsize=(8, 5))
    axes = figure.add_subplot()
    best_id = _best_trial_id(trials, metric, mode)
    for trial in trials:
        points = _curve(trial, metric, time_attr)
        if not points:
            continue

        xs, ys = zip(*points, strict=True)
        is_best = trial.get("trial_id") == best_id
        (line,) = axes.plot(
            xs, ys, linewidth=2.5 if is_best else 1.0, alpha=1.0 if is_best else 0.7
        )
        if trial["state"] == "early_stopped":
            axes.plot(xs[-1], ys[-1], "x", color="tab:red", markersize=8, markeredgewidth=2)
        elif trial["state"] == "errored":
            axes.plot(xs[-1], ys[-1], "v", color="black", markersize=7)
        if is_best:
            line.set_label(f"best: {best_id}")

    handles = [
        Line2D([], [], color="tab:red", marker="x", linestyle="", label="stopped by ASHA"),
        Line2D([], [], color="black", marker="v", linestyle="", label="errored"),
    ]
    handles += [line for line in axes.get_lines() if not line.get_label().startswith("_")]
    axes.legend(handles=handles, loc="best", fontsize="small")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(time_attr)
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} of {len(trials)} trials")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _optuna_plots(study: optuna.Study, metric: str, out_dir: Path) -> list[Path]:
    from optuna.visualization import matplotlib as optuna_plots

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        logger.warning("no completed trial: skipping the Optuna plots")
        return []

    plots = [("optimization_history", optuna_plots.plot_optimization_history)]
    varied = {name for trial in completed for name in trial.params}
    if len(completed) >= 2 and varied:
        plots.append(("param_importances", optuna_plots.plot_param_importances))
        plots.append(("parallel_coordinate", optuna_plots.plot_parallel_coordinate))
    else:
        logger.warning(
            "skipping the parameter importances and parallel coordinates: they need at least 2 "
            "completed trials with searched parameters, got %d completed trial(s) and "
            "parameters %s",
            len(completed),
            sorted(varied),
        )

    paths = []
    for name, plot in plots:
        path = out_dir / f"{name}.png"
        if _save_optuna_plot(plot, study, metric, path):
            paths.append(path)
    return paths


def _save_optuna_plot(plot, study: optuna.Study, metric: str, path: Path) -> bool:
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            axes = plot(study, target_name=metric)
        except (ValueError, RuntimeError) as error:
            logger.warning("skipping %s: %s", path.name, error)
            return False

    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return True


def _frozen_trial(
    trial: Mapping[str, Any],
    metric: str,
    distributions: Mapping[str, BaseDistribution],
    time_attr: str,
) -> FrozenTrial | None:
    state = trial["state"]
    if state == "running":
        return None

    points = _curve(trial, metric, time_attr)
    intermediate = {int(step): value for step, value in points}
    optuna_state = OPTUNA_STATES[state]
    value = None
    if optuna_state == TrialState.COMPLETE:
        if not points:
            logger.warning("completed trial %s reported no %s", trial.get("trial_id"), metric)
            optuna_state = TrialState.FAIL
        else:
            value = points[-1][1]

    config = trial.get("config", {})
    params = {name: _plain(config[name]) for name in distributions if name in config}
    return optuna.trial.create_trial(
        state=optuna_state,
        value=value,
        params=params,
        distributions={name: distributions[name] for name in params},
        intermediate_values=intermediate,
        user_attrs={"ray_trial_id": str(trial.get("trial_id"))},
    )


def _curve(trial: Mapping[str, Any], metric: str, time_attr: str) -> list[tuple[float, float]]:
    """Return the (time, value) points of a trial's finite ``metric`` results."""
    points = []
    for index, result in enumerate(trial.get("history", [])):
        value = result.get(metric)
        if not _is_number(value) or not math.isfinite(value):
            continue
        points.append((result.get(time_attr, index + 1), float(value)))
    return points


def _best_trial_id(trials: Sequence[Mapping[str, Any]], metric: str, mode: str) -> Any:
    finals = [
        (points[-1][1], trial.get("trial_id"))
        for trial in trials
        if trial["state"] == "completed"
        and (points := _curve(trial, metric, "training_iteration"))
    ]
    if not finals:
        return None
    pick = max if mode == "max" else min
    return pick(finals, key=lambda pair: pair[0])[1]


def _plain(value: Any) -> Any:
    """Return ``value`` if Optuna can store it as a parameter value, else its ``repr``."""
    return value if value is None or isinstance(value, bool | int | float | str) else repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
