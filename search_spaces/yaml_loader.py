"""Read and write search spaces as YAML files (``yaml.safe_load`` only).

Layout, with ``search_spaces/examples/minilm_small.yaml`` as a complete example::

    name: my_space
    task: csts                    # csts or kgc
    model: minilm                 # hub id, local folder or the embedded "minilm"
    hidden_size: 384              # optional; enables the scaler check
    fixed: {batch_size: 32, epochs: 2}
    params:
      lr: {distribution: loguniform, low: 1.0e-5, high: 1.0e-4}
      scaler: {distribution: choice, values: [4, 8]}
    points_to_evaluate:
      - {lr: 2.0e-5, scaler: 8}

PyYAML follows YAML 1.1, which reads ``1e-5`` (no dot) as a string: the loader converts numeric
strings given for float settings and for bounds, and rejects other strings there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from search_spaces.space import (
    Distribution,
    SearchSpace,
    field_types,
    validate_space,
)

logger = logging.getLogger(__name__)

YAML_SUFFIXES = (".yaml", ".yml")
YAML_KEYS = (
    "name",
    "description",
    "task",
    "model",
    "metric",
    "mode",
    "hidden_size",
    "fixed",
    "params",
    "points_to_evaluate",
)
REQUIRED_YAML_KEYS = ("name", "task", "model", "params")
PARAM_KEYS = ("distribution", "low", "high", "values")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLE_SPACE = EXAMPLES_DIR / "minilm_small.yaml"


def load_space_yaml(path: str | Path) -> SearchSpace:
    """Load and validate a space; every error message starts with the file's path."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"search space file {str(path)!r} not found; give an existing .yaml/.yml file "
            "or a registered space name"
        )

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        raise ValueError(f"{path}: invalid YAML at {_describe_yaml_error(exc)}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc

    try:
        space = space_from_dict(data)
        validate_space(space)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    logger.info("loaded search space %s from %s", space.name, path)
    return space


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    """Return 'line L, column C: problem', adding where the enclosing construct began."""
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
    text = f"{where}: {exc.problem or exc.context}"
    if exc.context and exc.context_mark and exc.problem_mark:
        text += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return text + "; fix the syntax there"


def save_space_yaml(space: SearchSpace, path: str | Path) -> None:
    """Write ``space`` in the layout that ``load_space_yaml`` reads."""
    text = yaml.safe_dump(space.to_dict(), sort_keys=False, default_flow_style=None)
    Path(path).write_text(text, encoding="utf-8")


def space_from_dict(data: Any) -> SearchSpace:
    """Build an unvalidated SearchSpace from the YAML layout (as read, or from ``to_dict``)."""
    if not isinstance(data, Mapping):
        raise ValueError(
            f"expected a mapping with keys {', '.join(YAML_KEYS)}, got {type(data).__name__}; "
            "write the space as 'key: value' lines"
        )
    unknown = [key for key in data if key not in YAML_KEYS]
    if unknown:
        raise ValueError(
            f"{unknown[0]}: unknown top-level key; allowed keys are {', '.join(YAML_KEYS)}"
        )
    missing = [key for key in REQUIRED_YAML_KEYS if key not in data]
    if missing:
        raise ValueError(f"missing top-level key(s) {', '.join(missing)}; add them")

    params = _section(data, "params")
    return SearchSpace(
        name=data["name"],
        description=data.get("description") or "",
        task=data["task"],
        model=data["model"],
        fixed={name: _coerce(name, value) for name, value in _section(data, "fixed").items()},
        params={name: _parse_param(name, spec) for name, spec in params.items()},
        points_to_evaluate=_parse_points(data.get("points_to_evaluate")),
        metric=data.get("metric") or "",
        mode=data.get("mode") or "max",
        hidden_size=data.get("hidden_size"),
    )


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = data.get(key)
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ValueError(
            f"{key}={section!r}: expected a mapping of setting names to values; "
            "write one 'name: value' line per setting"
        )
    return section


def _parse_param(name: str, spec: Any) -> Distribution:
    key = f"params.{name}"
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{key}={spec!r}: expected a mapping such as "
            "{distribution: loguniform, low: 1.0e-5, high: 1.0e-4} or "
            "{distribution: choice, values: [4, 8]}"
        )
    unknown = [k for k in spec if k not in PARAM_KEYS]
    if unknown:
        raise ValueError(
            f"{key}.{unknown[0]}: unknown key; a parameter takes {', '.join(PARAM_KEYS)}"
        )
    if "distribution" not in spec:
        raise ValueError(f"{key}: missing key 'distribution'; add e.g. distribution: uniform")

    kind = spec["distribution"]
    values = spec.get("values")
    if values is not None and not isinstance(values, (list, tuple)):
        raise ValueError(f"{key}.values={values!r}: expected a list; write e.g. values: [4, 8]")
    return Distribution(
        kind=kind,
        low=_parse_bound(f"{key}.low", spec.get("low"), integer=kind == "int_uniform"),
        high=_parse_bound(f"{key}.high", spec.get("high"), integer=kind == "int_uniform"),
        choices=None if values is None else tuple(_coerce(name, v) for v in values),
    )


def _parse_bound(key: str, value: Any, integer: bool) -> Any:
    if not isinstance(value, str):
        if not integer and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    try:
        return int(value) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number such as 1.0e-5"
        raise ValueError(f"{key}={value!r}: not a number; write it as {kind}") from None


def _coerce(name: str, value: Any) -> Any:
    """Convert numeric strings and integers to float for float-typed TrainConfig fields."""
    allowed = field_types().get(name, ())
    if float not in allowed or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _parse_points(points: Any) -> tuple[dict[str, Any], ...]:
    if points is None:
        return ()
    if not isinstance(points, list):
        raise ValueError(
            f"points_to_evaluate={points!r}: expected a list of mappings; "
            "write one '- {lr: 2.0e-5, ...}' line per point"
        )
    parsed = []
    for index, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise ValueError(
                f"points_to_evaluate[{index}]={point!r}: expected a mapping of searched "
                "parameters to values"
            )
        parsed.append({name: _coerce(name, value) for name, value in point.items()})
    return tuple(parsed)
