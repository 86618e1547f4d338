"""Model folders and trainer checkpoints: safetensors weights plus JSON, nothing pickled.

A model folder (``best/``, an exported model, the ``model/`` part of a trainer checkpoint)::

    config.json            resolved TrainConfig
    encoder/               the encoder and its tokenizer (``save_pretrained``, safetensors)
    condition_encoder/     the condition encoder of a dual C-STS model (tail_encoder/ for SimKGC)
    head.safetensors       every other weight: condition transform, head, regression layer
    data.json              name, split sizes and SHA-256 digest of the training data (no text)
    kgc_data/              KGC only: the entity and triple files that answers are ranked over

A trainer checkpoint adds ``trainer_state/`` with the optimiser and scheduler state, the step
and the random-number-generator state, so training resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hypercl.training.config import TrainConfig

HEAD_FILE = "head.safetensors"
CONFIG_FILE = "config.json"
STATE_DIR = "trainer_state"
DATA_FILE = "data.json"


def encoder_children(model: nn.Module) -> dict[str, nn.Module]:
    """Return the model's direct children that are sentence encoders, by attribute name."""
    from hypercl.models.encoder import SentenceEncoder

    return {
        name: child for name, child in model.named_children() if isinstance(child, SentenceEncoder)
    }


def head_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return every weight that does not belong to an encoder."""
    prefixes = tuple(f"{name}." for name in encoder_children(model))
    return {
        key: value.detach().contiguous().cpu()
        for key, value in model.state_dict().items()
        if not key.startswith(prefixes)
    }


def save_model(model: nn.Module, tokenizer: Any, config: TrainConfig, path: str | Path) -> Path:
    """Write a self-contained model folder (see the module docstring)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, encoder in encoder_children(model).items():
        encoder.model.save_pretrained(path / name, safe_serialization=True)
        tokenizer.save_pretrained(path / name)
    save_file(head_state_dict(model), str(path / HEAD_FILE))
    config.save(path / CONFIG_FILE)
    if config.task == "kgc" and config.data_dir is not None:
        from hypercl.inference_kgc import copy_graph

        copy_graph(config.data_dir, path)
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild a model saved by ``save_model``; return (model, tokenizer, config)."""
    from hypercl.models.encoder import load_encoder
    from hypercl.tasks import build_model

    path = Path(path)
    config_path = path / CONFIG_FILE
    if (path / "best" / CONFIG_FILE).is_file() and not (path / "encoder").is_dir():
        raise FileNotFoundError(
            f"{path} is a training output folder, not a model folder; load {path / 'best'}"
        )
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path} not found: {path} is not a hypercl model folder "
            "(expected config.json, encoder/ and head.safetensors)"
        )
    config = TrainConfig.load(config_path)
    encoder, tokenizer = load_encoder(str(path / "encoder"), config.pooler)
    model = build_model(config, encoder)
    for name, child in encoder_children(model).items():
        weights = load_file(str(path / name / "model.safetensors"))
        child.model.load_state_dict(weights, strict=False)
    missing, unexpected = model.load_state_dict(load_file(str(path / HEAD_FILE)), strict=False)
    encoder_prefixes = tuple(f"{name}." for name in encoder_children(model))
    missing = [key for key in missing if not key.startswith(encoder_prefixes)]
    if missing or unexpected:
        raise ValueError(
            f"{path / HEAD_FILE} does not match the model built from {config_path}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return model.to(device).eval(), tokenizer, config


def save_trainer_state(path: Path, tensors: dict[str, torch.Tensor], values: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    save_file(
        {key: value.contiguous().cpu() for key, value in tensors.items()},
        str(path / "state.safetensors"),
    )
    (path / "state.json").write_text(json.dumps(values, indent=1))


def write_json(path: Path, values: dict) -> None:
    path.write_text(json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")


def load_trainer_state(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    return load_file(str(path / "state.safetensors")), json.loads(
        (path / "state.json").read_text()
    )


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """Flatten an optimiser state dict into named tensors and JSON-able parameter groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value)
    return tensors, state["param_groups"]


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if not name.startswith("optimizer."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def replace_folder(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, replacing it, so a crash never leaves half a checkpoint."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(source, target)
    if old.exists():
        shutil.rmtree(old)
