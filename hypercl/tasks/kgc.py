"""Knowledge-graph completion (WN18RR) as a training task: data, batches, model, loss, ranking.

Training uses the forward and the inverse training triples with SimKGC's InfoNCE loss, and
selection uses the filtered MRR on the validation triples (``val_mrr``, higher is better).
SimKGC's WN18RR recipe uses ``--pooler avg --max-seq-length 50``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from hypercl.data.kgc import (
    add_inverse_triples,
    build_link_graph,
    data_digest,
    known_triples,
    load_kgc_data,
    sample_triples,
)
from hypercl.data.kgc_batching import KgcBatch, KgcBatcher, iter_train_batches
from hypercl.evaluation.kgc import embed_entities, evaluate_kgc, predict_tails
from hypercl.losses.kgc import PreBatchQueue, kgc_loss
from hypercl.models.encoder import load_encoder
from hypercl.models.kgc import build_kgc_model
from hypercl.training.config import TrainConfig

logger = logging.getLogger(__name__)


def check_kgc_config(config: TrainConfig) -> None:
    """Reject settings that cannot train, before any data or model is loaded."""
    if config.data_dir is None:
        raise ValueError(
            "--data-dir is required for --task kgc: a folder with train.txt, valid.txt, "
            "test.txt and entity2text.txt (or wordnet-mlj12-definitions.txt)"
        )
    if config.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {config.batch_size}")
    if config.margin < 0:
        raise ValueError(f"--margin must be >= 0, got {config.margin}")
    if config.init_temperature <= 0:
        raise ValueError(f"--init-temperature must be > 0, got {config.init_temperature}")
    if config.pre_batch < 0:
        raise ValueError(f"--pre-batch must be >= 0 batches, got {config.pre_batch}")
    for name in ("max_train_rows", "eval_max_triples"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1 or unset, got {value}")


class KgcTask:
    """Train a KGC bi- or tri-encoder and select on filtered validation MRR."""

    metric = "val_mrr"
    mode = "max"

    def __init__(self, config: TrainConfig) -> None:
        check_kgc_config(config)
        self.config = config

        # data: forward triples (a seeded subset with --max-train-rows) plus their inverses
        self.data = load_kgc_data(config.data_dir)
        num_relations = self.data.num_relations
        forward = sample_triples(self.data.train, config.max_train_rows, config.seed)
        self.train_triples = add_inverse_triples(forward, num_relations)  # (2n, 3)
        self.train_known = known_triples(self.data, ("train",))
        self.all_known = known_triples(self.data)
        self.link_graph = (
            build_link_graph(self.data.train, self.data.num_entities) if config.rerank else None
        )

        # model and tokenisation of every entity and relation text, once
        encoder, self.tokenizer = load_encoder(config.model, config.pooler)
        self.model = build_kgc_model(config, encoder)
        self.batcher = KgcBatcher(
            self.data, self.tokenizer, config.encoding, config.max_seq_length,
            neighbor_names=config.neighbor_names, train_known=self.train_known,
        )  # fmt: skip
        self.batcher.tokenize_all()
        self.pre_batch = PreBatchQueue(config.pre_batch)
        logger.info(
            "KGC: %d entities, %d relations, %d training examples (with inverses), %s",
            self.data.num_entities, num_relations, len(self.train_triples), config.encoding,
        )  # fmt: skip

    def num_train_batches(self) -> int:
        return math.ceil(self.train_triples.shape[0] / self.config.batch_size)

    def train_batches(self, epoch: int) -> Iterator[KgcBatch]:
        generator = torch.Generator().manual_seed(self.config.seed * 1000 + epoch)
        return iter_train_batches(
            self.batcher, self.train_triples, self.config.batch_size, generator,
            self.config.self_negative,
        )  # fmt: skip

    def batch_size(self, batch: KgcBatch) -> int:
        return len(batch)

    def loss(self, batch: KgcBatch, device: torch.device) -> torch.Tensor:
        """Return the InfoNCE loss with in-batch, pre-batch and self-negatives as configured."""
        config = self.config
        batch = batch.to(device)
        output = self.model(batch)

        negatives: dict[str, torch.Tensor | None] = {"true_tail_mask": batch.true_tail_mask}
        if config.self_negative:
            negatives["self_negatives"] = output.heads
            negatives["self_negative_mask"] = batch.self_negative_mask
        queued = self.pre_batch.negatives()
        if queued is not None:
            embeddings, entities = queued
            negatives["pre_batch_tails"] = embeddings
            negatives["pre_batch_mask"] = self.train_known.contains(
                batch.heads[:, None], batch.relations[:, None], entities[None, :]
            )  # (n, m)

        margin = config.margin if self.model.training else 0.0
        loss = kgc_loss(
            output.queries, output.tails, self.model.log_inv_temperature, margin, **negatives
        )
        self.pre_batch.push(output.tails, batch.tails)
        return loss

    def _evaluate(
        self, triples: torch.Tensor, device: torch.device, max_triples: int | None, prefix: str
    ) -> dict[str, float]:
        config = self.config
        return evaluate_kgc(
            self.model, self.batcher, triples, self.all_known, self.data.num_relations, device,
            batch_size=config.eval_batch_size, max_triples=max_triples, seed=config.seed,
            link_graph=self.link_graph, prefix=prefix,
        )  # fmt: skip

    def evaluate(self, device: torch.device) -> dict[str, float]:
        """Filtered ranking of the validation triples (a seeded subset with --eval-max-triples)."""
        return self._evaluate(self.data.valid, device, self.config.eval_max_triples, "val")

    def test_metrics(
        self, device: torch.device, max_triples: int | None = None
    ) -> dict[str, float]:
        """Filtered ranking of the test triples, named ``test_*``."""
        return self._evaluate(self.data.test, device, max_triples, "test")

    def predict(
        self,
        head_ids: Sequence[str],
        relations: Sequence[str],
        k: int = 10,
        device: torch.device | str = "cpu",
    ) -> list[list[tuple[str, float]]]:
        """Return the top-``k`` ``(tail entity id, score)`` of each ``(head id, relation)``."""
        entity_index = {entity: index for index, entity in enumerate(self.data.entity_ids)}
        unknown = [entity for entity in head_ids if entity not in entity_index]
        if unknown:
            raise ValueError(f"unknown head entity ids {unknown[:5]}; use ids of the entity file")

        heads = [entity_index[entity] for entity in head_ids]
        relation_indices = [self.data.relation_index(relation) for relation in relations]
        self.model.to(device)
        embeddings = embed_entities(self.model, self.batcher, device, self.config.eval_batch_size)
        indices, scores = predict_tails(
            self.model, self.batcher, relation_indices, k, head_entities=heads,
            entity_embeddings=embeddings, device=device,
        )  # fmt: skip
        return [
            [(self.data.entity_ids[i], s) for i, s in zip(row, row_scores, strict=True)]
            for row, row_scores in zip(indices.tolist(), scores.tolist(), strict=True)
        ]

    def describe(self) -> dict[str, Any]:
        data = self.data
        return {
            "dataset": data.data_dir.name,
            "entity_file": data.files[0].name,
            "digest": data_digest(data.files),
            "entities": data.num_entities,
            "relations": data.num_relations,
            "train_triples": int(data.train.shape[0]),
            "train_examples": int(self.train_triples.shape[0]),
            "valid_triples": int(data.valid.shape[0]),
            "test_triples": int(data.test.shape[0]),
            "eval_triples": min(
                self.config.eval_max_triples or data.valid.shape[0], data.valid.shape[0]
            ),
        }


def build_kgc_task(config: TrainConfig) -> KgcTask:
    return KgcTask(config)
