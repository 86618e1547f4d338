"""Loading a trained knowledge-graph-completion model: top-k tails of (head, relation) queries.

    model = hypercl.load("outputs/kgc/best")
    model.predict_tails(["00260881"], ["_hypernym"], k=5)   # [[(tail id, score), ...]]

The model folder contains the graph it was trained on under ``kgc_data/`` (entity texts and
triples), because every query is ranked against all entities of that graph.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from hypercl.training.config import TrainConfig

logger = logging.getLogger(__name__)

DATA_FOLDER = "kgc_data"


def copy_graph(data_dir: str | Path, model_dir: Path) -> None:
    """Copy the entity file and the triple files next to a saved model (``kgc_data/``)."""
    from hypercl.data.kgc import SPLITS, find_entity_file

    source = Path(data_dir)
    target = model_dir / DATA_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for path in [find_entity_file(source), *(source / f"{split}.txt" for split in SPLITS)]:
        shutil.copyfile(path, target / path.name)


class KgcModel:
    """A trained KGC model with its graph; entity embeddings are computed once, on first use."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        config: TrainConfig,
        device: torch.device,
        folder: str | Path,
    ) -> None:
        from hypercl.data.kgc import load_kgc_data
        from hypercl.data.kgc_batching import KgcBatcher

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.device = device
        data_dir = Path(folder) / DATA_FOLDER
        if not data_dir.is_dir():
            if config.data_dir is None:
                raise FileNotFoundError(
                    f"{data_dir} not found and the model's config names no data_dir; "
                    "re-export the model with python -m tracking.export"
                )
            data_dir = Path(config.data_dir)
        self.data = load_kgc_data(data_dir)
        self.batcher = KgcBatcher(self.data, tokenizer, config.encoding, config.max_seq_length)
        self._entity_embeddings: torch.Tensor | None = None
        self._entity_index = {entity: i for i, entity in enumerate(self.data.entity_ids)}

    def entity_embeddings(self) -> torch.Tensor:
        """Embed every entity of the graph once: (num_entities, d)."""
        from hypercl.evaluation.kgc import embed_entities

        if self._entity_embeddings is None:
            logger.info("embedding %d entities", self.data.num_entities)
            self._entity_embeddings = embed_entities(
                self.model, self.batcher, self.device, self.config.eval_batch_size
            )
        return self._entity_embeddings

    @torch.no_grad()
    def predict_tails(
        self, heads: Sequence[str], relations: Sequence[str], k: int = 10
    ) -> list[list[tuple[str, float]]]:
        """Return the top-``k`` ``(tail entity id, score)`` of each ``(head id, relation)``.

        A relation is a raw name (``_hypernym``) or a relation text (``inverse hypernym``).
        """
        from hypercl.evaluation.kgc import predict_tails

        if len(heads) != len(relations):
            raise ValueError(
                f"heads and relations must have equal lengths, got {len(heads)} and "
                f"{len(relations)}"
            )
        if not heads:
            return []
        unknown = [head for head in heads if head not in self._entity_index]
        if unknown:
            raise ValueError(
                f"unknown head entity ids {unknown[:5]}; use ids from the model's entity file"
            )
        indices, scores = predict_tails(
            self.model, self.batcher, [self.data.relation_index(r) for r in relations], k,
            head_entities=[self._entity_index[head] for head in heads],
            entity_embeddings=self.entity_embeddings(), device=self.device,
        )  # fmt: skip
        return [
            [(self.data.entity_ids[i], float(s)) for i, s in zip(row, values, strict=True)]
            for row, values in zip(indices.tolist(), scores.tolist(), strict=True)
        ]
