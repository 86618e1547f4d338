"""Registry of named search spaces: factories registered by name, looked up by name or YAML path."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from search_spaces.space import SearchSpace, validate_space
from search_spaces.yaml_loader import YAML_SUFFIXES, load_space_yaml

logger = logging.getLogger(__name__)

SpaceFactory = Callable[[], SearchSpace]

_FACTORIES: dict[str, SpaceFactory] = {}


def register_space(name: str) -> Callable[[SpaceFactory], SpaceFactory]:
    """Register the decorated factory ``() -> SearchSpace`` under ``name``."""

    def decorator(factory: SpaceFactory) -> SpaceFactory:
        if name in _FACTORIES:
            raise ValueError(f"search space {name!r} is already registered; choose another name")
        _FACTORIES[name] = factory
        return factory

    return decorator


def list_spaces() -> list[str]:
    """Return the registered space names, sorted."""
    return sorted(_FACTORIES)


def is_yaml_path(name_or_path: str | Path) -> bool:
    return isinstance(name_or_path, Path) or str(name_or_path).endswith(YAML_SUFFIXES)


def get_space(name_or_path: str | Path) -> SearchSpace:
    """Build and validate the space registered as ``name_or_path``, or load it from a YAML file."""
    if is_yaml_path(name_or_path):
        return load_space_yaml(name_or_path)

    factory = _FACTORIES.get(name_or_path)
    if factory is None:
        raise ValueError(
            f"unknown search space {name_or_path!r}; registered spaces are "
            f"{', '.join(list_spaces())}; a path to a YAML file (ending in .yaml or .yml) "
            "also works"
        )

    space = factory()
    if space.name != name_or_path:
        raise ValueError(
            f"the factory registered as {name_or_path!r} builds a space named {space.name!r}; "
            "give the space the name it is registered under"
        )
    validate_space(space)
    return space


def format_spaces() -> str:
    """Return one block per registered space (name, task, model, ranges) for ``--list-spaces``."""
    blocks = []
    for name in list_spaces():
        space = _FACTORIES[name]()
        ranges = "; ".join(f"{key} {dist.describe()}" for key, dist in space.params.items())
        backbone = f"model {space.model}"
        if space.hidden_size is not None:
            backbone += f" (d={space.hidden_size})"
        if "scaler" in space.fixed:
            backbone += f", scaler {space.fixed['scaler']}"
        blocks.append(
            f"{name}  [{space.task}, {space.metric}]  {backbone}\n"
            f"    {space.description}\n"
            f"    searches: {ranges}"
        )
    return "\n".join(blocks)
