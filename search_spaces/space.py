"""Search spaces over TrainConfig fields: the dataclasses, their validation and the Ray Tune form.

A space fixes some TrainConfig fields, searches others with a small set of distributions, and
names the points that the search evaluates first (the best published configuration).
"""

from __future__ import annotations

import logging
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from hypercl.training.config import ENCODINGS, PRECISIONS, TASKS, TIED_PAIRS, TrainConfig

logger = logging.getLogger(__name__)

DISTRIBUTIONS = ("loguniform", "uniform", "choice", "int_uniform")
"""Kinds of distribution: ``int_uniform`` includes both bounds, the float kinds sample [low, high)."""

MODES = ("max", "min")

TASK_METRICS = {
    "csts": ("val_spearman", "val_pearson"),
    "kgc": ("val_mrr", "val_hits1", "val_hits3", "val_hits10"),
}
"""Validation metrics that each task reports; every one of them improves upward (mode ``max``)."""

DEFAULT_METRICS = {"csts": "val_spearman", "kgc": "val_mrr"}

TOP_LEVEL_KEYS = ("task", "model")
"""TrainConfig fields that a space sets with its own top-level keys, never in fixed or params."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Distribution:
    """Distribution of one searched TrainConfig field: bounds for numeric kinds, values for choice."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def __post_init__(self) -> None:
        if self.choices is not None and not isinstance(self.choices, tuple):
            object.__setattr__(self, "choices", tuple(self.choices))

    def contains(self, value: Any) -> bool:
        """Return whether ``value`` can be drawn from this distribution (bounds inclusive)."""
        if self.kind == "choice":
            return any(_same_value(value, choice) for choice in self.choices or ())
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int_uniform" and not isinstance(value, int):
            return False
        return self.low <= value <= self.high

    def describe(self) -> str:
        if self.kind == "choice":
            return "choice {" + ", ".join(repr(value) for value in self.choices or ()) + "}"
        return f"{self.kind} [{self.low!r}, {self.high!r}]"

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML form: ``{distribution, low, high}`` or ``{distribution, values}``."""
        if self.kind == "choice":
            return {"distribution": self.kind, "values": list(self.choices or ())}
        return {"distribution": self.kind, "low": self.low, "high": self.high}


def loguniform(low: float, high: float) -> Distribution:
    return Distribution("loguniform", low=low, high=high)


def uniform(low: float, high: float) -> Distribution:
    return Distribution("uniform", low=low, high=high)


def int_uniform(low: int, high: int) -> Distribution:
    return Distribution("int_uniform", low=low, high=high)


def choice(*values: Any) -> Distribution:
    return Distribution("choice", choices=tuple(values))


@dataclass(frozen=True)
class SearchSpace:
    """Named search space: fixed and searched TrainConfig fields, start points, metric and mode."""

    name: str
    description: str
    task: str
    model: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Distribution] = field(default_factory=dict)
    points_to_evaluate: tuple[Mapping[str, Any], ...] = ()
    metric: str = ""
    mode: str = "max"
    hidden_size: int | None = None

    def __post_init__(self) -> None:
        # Copies keep the space independent of the caller's dicts. A metric left empty
        # takes the task's default (val_spearman for csts, val_mrr for kgc).
        object.__setattr__(self, "fixed", dict(self.fixed))
        object.__setattr__(self, "params", dict(self.params))
        points = tuple(dict(point) for point in self.points_to_evaluate)
        object.__setattr__(self, "points_to_evaluate", points)
        if not self.metric and self.task in DEFAULT_METRICS:
            object.__setattr__(self, "metric", DEFAULT_METRICS[self.task])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON- and YAML-ready dict in the layout that ``load_space_yaml`` reads."""
        return {
            "name": self.name,
            "description": self.description,
            "task": self.task,
            "model": self.model,
            "metric": self.metric,
            "mode": self.mode,
            "hidden_size": self.hidden_size,
            "fixed": dict(self.fixed),
            "params": {key: dist.to_dict() for key, dist in self.params.items()},
            "points_to_evaluate": [dict(point) for point in self.points_to_evaluate],
        }

    def describe(self) -> str:
        """Return a multi-line summary: name, task, model, metric, fixed values and ranges."""
        lines = [
            f"search space {self.name}: {self.description}",
            f"  task {self.task}, model {self.model}, hidden size {self.hidden_size}",
            f"  metric {self.metric} ({self.mode})",
            "  fixed: " + ", ".join(f"{key}={value!r}" for key, value in self.fixed.items()),
        ]
        for key, dist in self.params.items():
            lines.append(f"  {key}: {dist.describe()}{_rank_note(key, dist, self.hidden_size)}")
        for index, point in enumerate(self.points_to_evaluate):
            values = ", ".join(f"{key}={value!r}" for key, value in point.items())
            lines.append(f"  points_to_evaluate[{index}]: {values}")
        return "\n".join(lines)


def _rank_note(key: str, dist: Distribution, hidden_size: int | None) -> str:
    if key != "scaler" or dist.kind != "choice" or not hidden_size:
        return ""
    ranks = "/".join(str(hidden_size // scaler) for scaler in dist.choices or ())
    return f" (K = {ranks} at d={hidden_size})"


def _same_value(value: Any, expected: Any) -> bool:
    # True == 1 and 1 == 1.0 in Python; a bool only matches a bool here.
    if isinstance(value, bool) != isinstance(expected, bool):
        return False
    return value == expected


def _invalid(key: str, value: Any, problem: str, fix: str) -> ValueError:
    return ValueError(f"{key}={value!r}: {problem}; {fix}")


# ---------------------------------------------------------------- TrainConfig field types


@lru_cache(maxsize=1)
def field_types() -> dict[str, tuple[type, ...]]:
    """Map each TrainConfig field to the Python types its values may have."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: _types_of_hint(hints[f.name]) for f in fields(TrainConfig)}


def _types_of_hint(hint: Any) -> tuple[type, ...]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _types_of_hint(arg))
    if origin is not None:
        return (origin,)
    return (hint,)


def _type_names(allowed: tuple[type, ...]) -> str:
    return " or ".join("None" if t is type(None) else t.__name__ for t in allowed)


def _has_type(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if value is None:
        return type(None) in allowed
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, tuple(t for t in allowed if t is not bool))


def settable_fields() -> list[str]:
    """Return the TrainConfig fields that a space may fix or search (all but task and model)."""
    return sorted(name for name in field_types() if name not in TOP_LEVEL_KEYS)


def _option_values() -> dict[str, tuple[str, ...]]:
    """Return the allowed strings of each TrainConfig option field."""
    # Imported here because these modules load torch and transformers, which listing
    # spaces and building them do not need.
    from hypercl.losses.csts import OBJECTIVES
    from hypercl.models.encoder import POOLERS
    from hypercl.models.heads import HEADS

    return {
        "encoding": ENCODINGS,
        "head": HEADS,
        "pooler": POOLERS,
        "objective": OBJECTIVES,
        "precision": PRECISIONS,
        "tied_pairs": TIED_PAIRS,
    }


def _check_value(key: str, name: str, value: Any, options: dict[str, tuple[str, ...]]) -> None:
    """Check that ``value`` fits TrainConfig field ``name``; ``key`` is the dotted location."""
    allowed = field_types()[name]
    if not _has_type(value, allowed):
        raise _invalid(
            key,
            value,
            f"TrainConfig.{name} takes {_type_names(allowed)}, not {type(value).__name__}",
            f"give a value of type {_type_names(allowed)}",
        )
    if name in options and value not in options[name]:
        raise _invalid(
            key,
            value,
            f"unknown {name}",
            f"use one of {', '.join(options[name])}",
        )


# ---------------------------------------------------------------- validation


def validate_space(space: SearchSpace, hidden_size: int | None = None) -> None:
    """Raise ValueError naming the dotted key, the value and the fix for the first problem found.

    ``hidden_size`` is the backbone's hidden size d when the caller knows it, for example from
    the loaded model's config. It takes precedence over ``space.hidden_size`` in the scaler
    check. Without either, only scaler >= 1 is checked.
    """
    _check_header(space)
    options = _option_values()

    _check_fixed(space, options)
    for key, dist in space.params.items():
        _check_param(space, key, dist, options)

    if hidden_size is not None:
        _check_hidden_size("hidden_size", hidden_size)
        _check_scaler(space, hidden_size, "the hidden size of the backbone being loaded")
    else:
        _check_scaler(space, space.hidden_size, f"hidden_size of space {space.name!r}")
    _check_points(space, options)
    logger.debug("search space %s is valid", space.name)


def _check_header(space: SearchSpace) -> None:
    if not isinstance(space.name, str) or not NAME_PATTERN.match(space.name):
        raise _invalid(
            "name",
            space.name,
            "invalid space name",
            "use letters, digits, '_', '.' and '-', starting with a letter or digit",
        )
    if space.task not in TASKS:
        raise _invalid("task", space.task, "unknown task", f"use one of {', '.join(TASKS)}")
    if not isinstance(space.model, str) or not space.model:
        raise _invalid(
            "model", space.model, "missing backbone", "give a hub id, a local folder or 'minilm'"
        )
    if not isinstance(space.description, str):
        raise _invalid("description", space.description, "not a string", "write one line of text")
    if space.hidden_size is not None:
        _check_hidden_size("hidden_size", space.hidden_size)
    _check_metric(space)


def _check_hidden_size(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(
            key, value, "hidden size must be a positive integer", "use e.g. 384, 768 or 1024"
        )


def _check_metric(space: SearchSpace) -> None:
    metrics = TASK_METRICS[space.task]
    if space.metric not in metrics:
        raise _invalid(
            "metric",
            space.metric,
            f"not a metric of task {space.task}",
            f"use metric {metrics[0]} (task {space.task} reports {', '.join(metrics)})",
        )
    if space.mode not in MODES:
        raise _invalid("mode", space.mode, "unknown mode", f"use one of {', '.join(MODES)}")
    if space.mode != "max":
        raise _invalid(
            "mode",
            space.mode,
            f"metric {space.metric} improves upward, so a search in mode {space.mode} "
            "would select the worst trial",
            "use mode max",
        )


def _check_name(key: str, name: str, section: str) -> None:
    if name in TOP_LEVEL_KEYS:
        raise _invalid(
            key,
            name,
            f"{name} is set by the space's top-level key {name!r}, not under {section}",
            f"remove it from {section} and set the top-level key",
        )
    allowed = [n for n in settable_fields() if section == "fixed" or n != "extra"]
    if name not in allowed:
        raise _invalid(
            key,
            name,
            f"unknown training setting under {section}",
            f"use TrainConfig field names: {', '.join(allowed)}",
        )


def _check_fixed(space: SearchSpace, options: dict[str, tuple[str, ...]]) -> None:
    for name, value in space.fixed.items():
        _check_name(f"fixed.{name}", name, "fixed")
        if name in space.params:
            raise _invalid(
                f"fixed.{name}",
                value,
                f"{name} is also searched under params.{name}",
                "remove it from fixed or from params",
            )
        _check_value(f"fixed.{name}", name, value, options)


def _check_param(
    space: SearchSpace, name: str, dist: Any, options: dict[str, tuple[str, ...]]
) -> None:
    key = f"params.{name}"
    _check_name(key, name, "params")
    if not isinstance(dist, Distribution):
        raise _invalid(
            key, dist, "not a Distribution", "build it with loguniform/uniform/int_uniform/choice"
        )
    if dist.kind not in DISTRIBUTIONS:
        raise _invalid(
            f"{key}.distribution",
            dist.kind,
            "unknown distribution",
            f"use one of {', '.join(DISTRIBUTIONS)}",
        )

    if dist.kind == "choice":
        _check_choice(key, name, dist, options)
    else:
        _check_bounds(key, name, dist)


def _check_choice(
    key: str, name: str, dist: Distribution, options: dict[str, tuple[str, ...]]
) -> None:
    if dist.low is not None or dist.high is not None:
        raise _invalid(
            f"{key}.low",
            dist.low,
            "a choice takes values, not low/high",
            "remove low and high or use a numeric distribution",
        )
    if not dist.choices:
        raise _invalid(
            f"{key}.values", list(dist.choices or ()), "empty choice", "list at least one value"
        )

    for index, value in enumerate(dist.choices):
        _check_value(f"{key}.values[{index}]", name, value, options)
        if any(_same_value(value, other) for other in dist.choices[:index]):
            raise _invalid(
                f"{key}.values[{index}]", value, "duplicate value", "list each value once"
            )


def _check_bounds(key: str, name: str, dist: Distribution) -> None:
    allowed = field_types()[name]
    if dist.choices is not None:
        raise _invalid(
            f"{key}.values",
            list(dist.choices),
            f"a {dist.kind} distribution takes low and high, not values",
            "remove values or use distribution choice",
        )
    expected_type = int if dist.kind == "int_uniform" else float
    if expected_type not in allowed:
        if float in allowed:
            fix = "use uniform, loguniform or choice"
        elif int in allowed:
            fix = "use int_uniform or choice"
        else:
            fix = "use choice"
        raise _invalid(
            f"{key}.distribution",
            dist.kind,
            f"TrainConfig.{name} takes {_type_names(allowed)}",
            fix,
        )

    for bound in ("low", "high"):
        value = getattr(dist, bound)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or (expected_type is int and not isinstance(value, int)):
            raise _invalid(
                f"{key}.{bound}",
                value,
                f"missing or non-numeric bound of a {dist.kind} distribution",
                f"give {bound} as {'an integer' if expected_type is int else 'a number'}",
            )

    if dist.kind == "loguniform" and dist.low <= 0:
        raise _invalid(
            f"{key}.low",
            dist.low,
            "a loguniform distribution needs low > 0",
            "use a positive lower bound (e.g. 1e-6) or distribution uniform",
        )
    if dist.low >= dist.high:
        raise _invalid(
            f"{key}.low",
            dist.low,
            f"low must be below high={dist.high!r}",
            "swap the bounds or widen the range",
        )


def _scaler_values(space: SearchSpace) -> list[tuple[str, Any]]:
    if "scaler" in space.fixed:
        return [("fixed.scaler", space.fixed["scaler"])]
    dist = space.params.get("scaler")
    if dist is None:
        return []
    if dist.kind == "choice":
        return [(f"params.scaler.values[{i}]", v) for i, v in enumerate(dist.choices)]
    return [("params.scaler.low", dist.low), ("params.scaler.high", dist.high)]


def _check_scaler(space: SearchSpace, hidden_size: int | None, source: str) -> None:
    """Check that every scaler gives a rank K = floor(d / scaler) between 1 and d."""
    for key, scaler in _scaler_values(space):
        if scaler < 1:
            raise _invalid(
                key,
                scaler,
                "the scaler must be >= 1 (1 is the full-rank hypernetwork)",
                "use a scaler between 1 and the hidden size",
            )
        if hidden_size is not None and scaler > hidden_size:
            raise _invalid(
                key,
                scaler,
                f"the scaler is larger than the hidden size d={hidden_size} ({source}), "
                "so K = floor(d / scaler) would be 0",
                f"use a scaler between 1 and {hidden_size}",
            )

    head = space.fixed.get("head", TrainConfig.head)
    if "scaler" in space.params and "head" not in space.params and head != "hypernet":
        raise _invalid(
            "params.scaler",
            space.params["scaler"].describe(),
            f"the scaler sets the rank of the hypernet head, but the head is {head!r}",
            "remove params.scaler or set fixed.head to hypernet",
        )


def _check_points(space: SearchSpace, options: dict[str, tuple[str, ...]]) -> None:
    searched = list(space.params)
    for index, point in enumerate(space.points_to_evaluate):
        prefix = f"points_to_evaluate[{index}]"
        extra = [name for name in point if name not in space.params]
        if extra:
            raise _invalid(
                f"{prefix}.{extra[0]}",
                point[extra[0]],
                "not a searched parameter",
                f"set only keys of params ({', '.join(searched)}) in a point",
            )
        missing = [name for name in searched if name not in point]
        if missing:
            # Ray Tune's OptunaSearch (Ray 2.60) rejects a point without one value per
            # searched parameter.
            raise _invalid(
                prefix,
                dict(point),
                f"missing a value for {', '.join(missing)}",
                "give every searched parameter a value",
            )

        for name, value in point.items():
            dist = space.params[name]
            _check_value(f"{prefix}.{name}", name, value, options)
            if not dist.contains(value):
                raise _invalid(
                    f"{prefix}.{name}",
                    value,
                    f"outside params.{name} = {dist.describe()}",
                    "use a value inside the range or widen the range",
                )


# ---------------------------------------------------------------- Ray Tune form


def to_tune_param_space(space: SearchSpace) -> dict[str, Any]:
    """Return the ``param_space`` of a Ray Tune ``Tuner``: task, model, fixed values, domains.

    ``int_uniform`` becomes ``tune.randint(low, high + 1)`` because Ray's upper bound is
    exclusive; ``OptunaSearch`` maps it back to an inclusive ``IntDistribution(low, high)``.
    """
    from ray import tune

    param_space: dict[str, Any] = {"task": space.task, "model": space.model, **space.fixed}
    for name, dist in space.params.items():
        if dist.kind == "loguniform":
            param_space[name] = tune.loguniform(dist.low, dist.high)
        elif dist.kind == "uniform":
            param_space[name] = tune.uniform(dist.low, dist.high)
        elif dist.kind == "int_uniform":
            param_space[name] = tune.randint(dist.low, dist.high + 1)
        elif dist.kind == "choice":
            param_space[name] = tune.choice(list(dist.choices))
        else:
            raise _invalid(
                f"params.{name}.distribution",
                dist.kind,
                "unknown distribution",
                f"use one of {', '.join(DISTRIBUTIONS)}",
            )
    return param_space


def tune_points_to_evaluate(space: SearchSpace) -> list[dict[str, Any]]:
    """Return ``points_to_evaluate`` as the list of dicts that ``OptunaSearch`` accepts."""
    return [dict(point) for point in space.points_to_evaluate]
