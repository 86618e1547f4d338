"""C-STS as a training task: data, tokenisation, model, loss and correlation metrics."""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from hypercl.data.archive import resolve_csts_dir
from hypercl.data.csts import CstsExample, Quadruplet, load_csts, pair_quadruplets
from hypercl.data.csts_batching import (
    CstsBatch,
    CstsTokenizedSplit,
    iter_eval_batches,
    iter_train_batches,
)
from hypercl.evaluation.csts import correlation_metrics
from hypercl.losses.csts import OBJECTIVES, csts_loss
from hypercl.models.csts import build_csts_model
from hypercl.models.encoder import load_encoder
from hypercl.training.config import TIED_PAIRS, TrainConfig

logger = logging.getLogger(__name__)

SELECTIONS = ("validation", "holdout")


def check_csts_config(config: TrainConfig) -> None:
    """Reject settings that cannot train, before any data or model is loaded."""
    if config.objective not in OBJECTIVES:
        raise ValueError(f"--objective must be one of {OBJECTIVES}, got {config.objective!r}")
    if config.temperature <= 0:
        raise ValueError(f"--temperature must be > 0, got {config.temperature}")
    if config.tied_pairs not in TIED_PAIRS:
        raise ValueError(f"--tied-pairs must be one of {TIED_PAIRS}, got {config.tied_pairs!r}")
    if config.selection not in SELECTIONS:
        raise ValueError(f"--selection must be one of {SELECTIONS}, got {config.selection!r}")
    if config.batch_size < 2 or config.batch_size % 2:
        raise ValueError(
            f"--batch-size must be an even number >= 2 (rows come in pairs of conditions), "
            f"got {config.batch_size}"
        )
    for name in ("max_train_rows", "max_eval_rows"):
        value = getattr(config, name)
        if value is not None and value < 2:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 2 or unset, got {value}")


def split_holdout(
    quadruplets: Sequence[Quadruplet], fraction: float, seed: int
) -> tuple[list[Quadruplet], list[Quadruplet]]:
    """Split quadruplets (whole sentence pairs) into (train, holdout) with a seeded shuffle."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    order = list(range(len(quadruplets)))
    random.Random(seed).shuffle(order)
    size = max(1, round(fraction * len(order)))
    holdout = sorted(order[:size])
    train = sorted(order[size:])
    return [quadruplets[i] for i in train], [quadruplets[i] for i in holdout]


def rows_of(
    examples: Sequence[CstsExample], quadruplets: Sequence[Quadruplet]
) -> list[CstsExample]:
    """Return the rows of ``quadruplets`` as examples, high then low, in quadruplet order."""
    rows = []
    for quadruplet in quadruplets:
        rows.append(examples[quadruplet.high])
        rows.append(examples[quadruplet.low])
    return rows


def file_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class CstsTask:
    """Train on C-STS quadruplets and select on Spearman correlation of the selection split."""

    metric = "val_spearman"
    mode = "max"

    def __init__(self, config: TrainConfig) -> None:
        check_csts_config(config)
        self.config = config

        # data: decrypt once into the cache, validate, pair
        if config.data_dir is None:
            raise ValueError(
                "--data-dir is required for --task csts: a folder with csts_train.csv, "
                "csts_validation.csv and csts_test.csv, or with the official csts.tar.enc"
            )
        self.data_dir = resolve_csts_dir(config.data_dir, config.password_file)
        splits = load_csts(self.data_dir, splits=("train", "validation"))
        train = _first_rows(splits["train"], config.max_train_rows)
        validation = _first_rows(splits["validation"], config.max_eval_rows)
        if not train:
            raise ValueError(f"the training split in {self.data_dir} has no rows")
        quadruplets, self.train_report = pair_quadruplets(train)
        if not quadruplets:
            raise ValueError(
                f"no training quadruplets in the first {len(train)} rows of {self.data_dir}; "
                "raise --max-train-rows"
            )

        # selection split: validation (as published) or a seeded holdout of train
        if config.selection == "holdout":
            quadruplets, holdout = split_holdout(quadruplets, config.holdout_fraction, config.seed)
            self.selection_examples = rows_of(train, holdout)
        else:
            self.selection_examples = validation
        self.validation_examples = validation
        self.train_examples = train
        self.quadruplets = quadruplets

        # model and tokenisation, once per data set
        encoder, self.tokenizer = load_encoder(config.model, config.pooler)
        self.model = build_csts_model(config, encoder)
        self.train_split = self._tokenize(train)
        self.selection_split = self._tokenize(self.selection_examples)
        logger.info(
            "C-STS: %d training quadruplets, selection on %s (%d rows)",
            len(self.quadruplets),
            config.selection,
            len(self.selection_examples),
        )

    def _tokenize(self, examples: Sequence[CstsExample]) -> CstsTokenizedSplit:
        config = self.config
        return CstsTokenizedSplit(examples, self.tokenizer, config.encoding, config.max_seq_length)

    def num_train_batches(self) -> int:
        return math.ceil(len(self.quadruplets) / (self.config.batch_size // 2))

    def train_batches(self, epoch: int) -> Iterator[CstsBatch]:
        generator = torch.Generator().manual_seed(self.config.seed * 1000 + epoch)
        return iter_train_batches(
            self.train_split, self.quadruplets, self.config.batch_size, generator
        )

    def batch_size(self, batch: CstsBatch) -> int:
        return int(batch.labels.shape[0])

    def loss(self, batch: CstsBatch, device: torch.device) -> torch.Tensor:
        batch = batch.to(device)
        output = self.model(batch)
        config = self.config
        return csts_loss(
            output,
            batch,
            config.objective,
            temperature=config.temperature,
            in_batch_negatives=config.in_batch_negatives,
            tied_pairs=config.tied_pairs,
        )

    def evaluate(self, device: torch.device) -> dict[str, float]:
        """Correlation on the selection split, every row included."""
        scores = self.predict(self.selection_split, device)
        labels = [example.label for example in self.selection_examples]
        metrics = correlation_metrics(scores, labels)
        return {"val_spearman": metrics["spearman"], "val_pearson": metrics["pearson"]}

    def evaluate_validation(self, device: torch.device) -> dict[str, float]:
        """Correlation on the validation split, used to report a holdout-selected model."""
        scores = self.predict(self._tokenize(self.validation_examples), device)
        labels = [example.label for example in self.validation_examples]
        metrics = correlation_metrics(scores, labels)
        return {
            "validation_spearman": metrics["spearman"],
            "validation_pearson": metrics["pearson"],
        }

    @torch.no_grad()
    def predict(self, split: CstsTokenizedSplit, device: torch.device) -> list[float]:
        """Return the model's score (cosine, or regression output) for every row, in order."""
        was_training = self.model.training
        self.model.eval()
        scores = torch.empty(len(split))
        for batch in iter_eval_batches(split, self.config.eval_batch_size):
            output = self.model(batch.to(device))
            scores[batch.row_index.cpu()] = output.scores.float().cpu()
        self.model.train(was_training)
        return scores.tolist()

    def describe(self) -> dict[str, Any]:
        files = sorted(Path(self.data_dir).glob("csts_*.csv"))
        return {
            "dataset": "C-STS",
            "digest": file_digest(files),
            "train_rows": len(self.train_examples),
            "train_quadruplets": len(self.quadruplets),
            "train_tied_pairs": sum(q.tied for q in self.quadruplets),
            "train_unpaired_rows": self.train_report.unpaired_rows,
            "selection": self.config.selection,
            "selection_rows": len(self.selection_examples),
            "validation_rows": len(self.validation_examples),
        }


def _first_rows(examples: list[CstsExample], limit: int | None) -> list[CstsExample]:
    """Keep the first ``limit`` rows, rounded down to even so sentence pairs stay whole."""
    if limit is None or limit >= len(examples):
        return examples
    return examples[: limit - limit % 2]


def build_csts_task(config: TrainConfig) -> CstsTask:
    return CstsTask(config)
