"""Resolved configuration of one training run, shared by the CLI, Ray Tune trials and MLflow."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("csts", "kgc")
ENCODINGS = ("tri_encoder", "bi_encoder", "cross_encoder")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TIED_PAIRS = ("exclude", "include")


@dataclass
class TrainConfig:
    """Every setting of a run; defaults follow the Hyper-CL C-STS recipe (cls pooling, 10 % warmup)."""

    # What to train on
    task: str = "csts"
    data_dir: str | None = None
    password_file: str | None = None
    max_train_rows: int | None = None
    max_eval_rows: int | None = None
    # "validation" selects the best checkpoint on the validation split. "holdout" trains on
    # 90 % of the training quadruplets and selects on the other 10 %, so validation stays unseen.
    selection: str = "validation"
    holdout_fraction: float = 0.1

    # Model
    model: str = "minilm"
    encoding: str = "tri_encoder"
    head: str = "hypernet"
    scaler: int = 1
    dual: bool = False
    pooler: str = "cls"
    dropout: float = 0.1
    max_seq_length: int = 128

    # Objective
    objective: str = "triplet_cl_mse"
    temperature: float = 1.7
    in_batch_negatives: bool = False
    tied_pairs: str = "exclude"

    # Optimisation
    lr: float = 2e-5
    weight_decay: float = 0.1
    batch_size: int = 32
    eval_batch_size: int = 128
    epochs: int = 5
    warmup_ratio: float = 0.1
    max_grad_norm: float | None = None
    grad_accum_steps: int = 1
    seed: int = 42
    eval_steps: int | None = None
    device: str = "auto"
    precision: str = "auto"
    num_threads: int | None = None

    # Knowledge-graph completion (SimKGC recipe on WN18RR)
    margin: float = 0.02
    init_temperature: float = 0.05
    pre_batch: int = 0
    self_negative: bool = True
    neighbor_names: bool = False
    eval_max_triples: int | None = None
    rerank: bool = False

    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown training setting(s) {unknown}; valid settings are {sorted(known)}"
            )
        return cls(**values)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
