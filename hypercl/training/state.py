"""Seeding and saving of random-number-generator state, without pickle."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return the RNG states as (tensors for safetensors, JSON-serialisable values)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    values = {
        "numpy": [numpy_state[0], numpy_state[1].tolist(), *map(float, numpy_state[2:])],
        "python": [python_state[0], list(python_state[1]), python_state[2]],
    }
    return tensors, values


def restore_rng_state(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = sorted(key for key in tensors if key.startswith("rng.cuda."))
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[key] for key in cuda_states])
    kind, keys, position, has_gauss, cached = values["numpy"]
    np.random.set_state(
        (kind, np.array(keys, dtype=np.uint32), int(position), int(has_gauss), cached)
    )
    version, python_state, gauss = values["python"]
    random.setstate((version, tuple(python_state), gauss))
