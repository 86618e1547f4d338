"""Named search spaces for hypercl-tune and YAML spaces, validated before any trial starts.

>>> from search_spaces import get_space, to_tune_param_space
>>> space = get_space("minilm")            # or get_space("my_space.yaml")
>>> param_space = to_tune_param_space(space)
"""

from search_spaces import builtin  # noqa: F401  (registers the named spaces)
from search_spaces.registry import format_spaces, get_space, list_spaces, register_space
from search_spaces.space import (
    DEFAULT_METRICS,
    DISTRIBUTIONS,
    TASK_METRICS,
    Distribution,
    SearchSpace,
    choice,
    int_uniform,
    loguniform,
    settable_fields,
    to_tune_param_space,
    tune_points_to_evaluate,
    uniform,
    validate_space,
)
from search_spaces.yaml_loader import (
    EXAMPLE_SPACE,
    load_space_yaml,
    save_space_yaml,
    space_from_dict,
)

__all__ = [
    "DEFAULT_METRICS",
    "DISTRIBUTIONS",
    "EXAMPLE_SPACE",
    "TASK_METRICS",
    "Distribution",
    "SearchSpace",
    "choice",
    "format_spaces",
    "get_space",
    "int_uniform",
    "list_spaces",
    "load_space_yaml",
    "loguniform",
    "register_space",
    "save_space_yaml",
    "settable_fields",
    "space_from_dict",
    "to_tune_param_space",
    "tune_points_to_evaluate",
    "uniform",
    "validate_space",
]
