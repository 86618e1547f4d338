"""Reading a finished search: trial states, the best trial, the table and ``summary.json``."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.tune import ResultGrid

from tune.search import TIME_ATTR

STATES = ("completed", "early_stopped", "errored")


@dataclass
class TrialSummary:
    """One trial as the summary, the table and MLflow see it."""

    trial_id: str
    state: str
    config: dict[str, Any]
    best: dict[str, Any]
    last: dict[str, Any]
    iterations: int
    history: list[dict[str, Any]]
    checkpoint_path: str | None
    trial_dir: str
    node_ids: list[str]
    error: str | None


def _best_row(history: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any]:
    rows = [row for row in history if _is_number(row.get(metric))]
    if not rows:
        return {}
    pick = max if mode == "max" else min
    return pick(rows, key=lambda row: row[metric])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not math.isnan(value)


def summarize_trials(
    grid: ResultGrid, metric: str, mode: str, max_t: int, searched: list[str]
) -> list[TrialSummary]:
    """Classify every trial: completed, stopped early (ASHA or time budget), or errored."""
    trials = []
    for result in grid:
        frame = result.metrics_dataframe
        history = [] if frame is None else frame.to_dict("records")
        # A trial that the time budget or an error stopped before its first report has no
        # config or metrics in its result.
        config = result.config or {}
        last = dict(result.metrics or {})
        iterations = int(last.get(TIME_ATTR, 0) or 0)
        if result.error is not None:
            state = "errored"
        elif iterations >= max_t:
            state = "completed"
        else:
            state = "early_stopped"
        checkpoint = None
        if result.best_checkpoints:
            pick = max if mode == "max" else min
            scored = [(c, m) for c, m in result.best_checkpoints if _is_number(m.get(metric))]
            if scored:
                checkpoint = pick(scored, key=lambda pair: pair[1][metric])[0].path
        trials.append(
            TrialSummary(
                trial_id=str(last.get("trial_id") or Path(result.path).name),
                state=state,
                config={key: config.get(key) for key in searched},
                best=_best_row(history, metric, mode),
                last=last,
                iterations=iterations,
                history=history,
                checkpoint_path=checkpoint,
                trial_dir=str(result.path),
                node_ids=sorted({str(row["node_id"]) for row in history if row.get("node_id")}),
                error=None if result.error is None else str(result.error).splitlines()[0][:300],
            )
        )
    return trials


def best_trial(trials: list[TrialSummary], metric: str, mode: str) -> TrialSummary | None:
    ranked = rank_trials(trials, metric, mode, with_checkpoint=True)
    return ranked[0] if ranked else None


def rank_trials(
    trials: list[TrialSummary], metric: str, mode: str, with_checkpoint: bool = False
) -> list[TrialSummary]:
    """Sort the trials that reported ``metric`` by their best value, best first."""
    scored = [
        trial for trial in trials if trial.best and (trial.checkpoint_path or not with_checkpoint)
    ]
    return sorted(scored, key=lambda trial: trial.best[metric], reverse=mode == "max")


def count_states(trials: list[TrialSummary]) -> dict[str, int]:
    return {state: sum(trial.state == state for trial in trials) for state in STATES}


def format_table(trials: list[TrialSummary], metric: str, mode: str, top: int) -> str:
    """Format the top trials by their best value of ``metric`` as a plain-text table."""
    ranked = rank_trials(trials, metric, mode)[:top]
    if not ranked:
        return "no trial reported a result"
    params = list(ranked[0].config)
    header = ["trial", "state", "evals", *params, f"best {metric}", "at epoch"]
    rows = [header]
    for trial in ranked:
        values = [_short(trial.config.get(name)) for name in params]
        rows.append(
            [
                trial.trial_id,
                trial.state,
                str(trial.iterations),
                *values,
                f"{trial.best[metric]:.4f}",
                f"{trial.best.get('epoch', float('nan')):.2f}",
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def clean_metrics(row: dict[str, Any]) -> dict[str, float]:
    """Numeric ``val_*``/``validation_*``/training metrics of a result row."""
    keep = ("val_", "validation_", "train_loss", "epoch", "step")
    return {
        key: float(value)
        for key, value in row.items()
        if key.startswith(keep) and _is_number(value)
    }


def prune_checkpoints(trials: list[TrialSummary], metric: str, mode: str, keep: int) -> list[str]:
    """Delete every checkpoint except each top-``keep`` trial's best one; return what went.

    Ray keeps a trial's best and its latest checkpoint while the search runs, for resuming.
    Once the search is over only the best ones are worth their disk space.
    """
    ranked = rank_trials(trials, metric, mode, with_checkpoint=True)
    kept_paths = {trial.checkpoint_path for trial in ranked[:keep]}
    removed = []
    for trial in trials:
        for folder in sorted(Path(trial.trial_dir).glob("checkpoint_*")):
            if str(folder) not in kept_paths and folder.is_dir():
                shutil.rmtree(folder)
                removed.append(str(folder))
        if trial.checkpoint_path not in kept_paths:
            trial.checkpoint_path = None
    return removed
