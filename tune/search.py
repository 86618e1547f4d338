"""Searcher and scheduler wiring: Optuna TPE through Ray's OptunaSearch, and ASHA."""

from __future__ import annotations

import logging
from typing import Any

import optuna
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)

TIME_ATTR = "training_iteration"


class PruneAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that records a trial stopped by ASHA as PRUNED in the Optuna study.

    Ray's OptunaSearch records an early-stopped trial as COMPLETE with its last value, so
    TPE cannot tell a trial cut at the first rung from a finished one. Here a trial that
    ends before ``max_t`` evaluations without an error is recorded as PRUNED; Optuna keeps its
    intermediate values (reported after every evaluation), and TPE ranks pruned trials by
    how far they got and their last value.
    """

    def __init__(self, *args: Any, max_t: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_t = max_t

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        stopped_early = (
            not error
            and result is not None
            and result.get(TIME_ATTR, self._max_t) < self._max_t
            and trial_id in self._ot_trials
            and trial_id not in self._completed_trials
        )
        if not stopped_early:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        ot_trial = self._ot_trials[trial_id]
        try:
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
        except (ValueError, RuntimeError) as exc:
            logger.warning("could not record trial %s as pruned in Optuna: %s", trial_id, exc)
        self._completed_trials.add(trial_id)


def build_searcher(
    metric: str,
    mode: str,
    seed: int,
    points_to_evaluate: list[dict[str, Any]],
    max_concurrent: int,
    max_t: int,
) -> ConcurrencyLimiter:
    """Seeded TPE that first evaluates the space's published best configuration(s)."""
    sampler = optuna.samplers.TPESampler(seed=seed)
    searcher = PruneAwareOptunaSearch(
        metric=metric,
        mode=mode,
        points_to_evaluate=[dict(point) for point in points_to_evaluate] or None,
        sampler=sampler,
        max_t=max_t,
    )
    return ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)


def check_scheduler_args(max_t: int, grace_period: int, reduction_factor: float) -> None:
    if grace_period < 1 or grace_period > max_t:
        raise ValueError(
            f"--grace-period must be between 1 and the number of evaluations ({max_t}), "
            f"got {grace_period}"
        )
    if reduction_factor <= 1:
        raise ValueError(f"--reduction-factor must be > 1, got {reduction_factor}")


def build_scheduler(
    metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: float
) -> ASHAScheduler:
    """ASHA over evaluation rounds, one per epoch."""
    check_scheduler_args(max_t, grace_period, reduction_factor)
    return ASHAScheduler(
        time_attr=TIME_ATTR,
        metric=metric,
        mode=mode,
        max_t=max_t,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
    )
