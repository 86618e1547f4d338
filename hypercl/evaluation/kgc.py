"""Filtered link-prediction evaluation: rank every entity for each query ``(head, relation)``.

Every entity is embedded once per evaluation. Each query is scored against all of them with one
matrix product per chunk of queries. In the filtered setting every other known true tail of
the query (from the triple sets passed in, train, valid and test for WN18RR) gets score -inf.
Forward queries come from the triples as they are, and backward queries from their inverses
``(t, inverse r, h)``. The headline metric is the mean of the two directions.

Optional link-graph re-ranking adds 0.05 to every entity within 5 hops of the query entity in
the training graph, as SimKGC does for WN18RR. The query entity itself counts as within 0 hops.
Re-ranked metrics carry a ``_rerank`` suffix.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from hypercl.data.kgc import (
    KnownTriples,
    add_inverse_triples,
    entities_within_hops,
    sample_triples,
)
from hypercl.data.kgc_batching import KgcBatcher
from hypercl.metrics import filtered_ranks, ranking_metrics

logger = logging.getLogger(__name__)

RERANK_HOPS = 5
RERANK_WEIGHT = 0.05
DIRECTIONS = ("forward", "backward")


def _progress_disabled() -> bool:
    return not sys.stderr.isatty()


@torch.no_grad()
def embed_entities(
    model: nn.Module, batcher: KgcBatcher, device: torch.device | str, batch_size: int = 256
) -> torch.Tensor:
    """Return the embeddings of all entities, ``(E, d)`` float32 on ``device``.

    Entities are batched in order of token length, so each batch pads little. The model runs
    in evaluation mode (no dropout) and is put back in its previous mode afterwards.
    """
    order = torch.argsort(batcher.entity_lengths(), stable=True)  # (E,)
    embeddings = None
    was_training = model.training
    model.eval()
    try:
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc="embedding entities", disable=_progress_disabled()):
            entities = order[start : start + batch_size]
            tokens = batcher.entity_tokens(entities.tolist()).to(device)
            chunk = model.encode_entities(tokens).float()  # (chunk, d)
            if embeddings is None:
                embeddings = chunk.new_empty(len(order), chunk.shape[1])  # (E, d)
            embeddings[entities.to(device)] = chunk
    finally:
        model.train(was_training)
    return embeddings


class _Reranker:
    """Bonus of ``RERANK_WEIGHT`` for entities near the query entity, cached per entity."""

    def __init__(self, link_graph: list[list[int]]):
        self.link_graph = link_graph
        self.cache: dict[int, torch.Tensor] = {}

    def neighborhood(self, entity: int) -> torch.Tensor:
        if entity not in self.cache:
            nearby = entities_within_hops(self.link_graph, entity, RERANK_HOPS)
            self.cache[entity] = torch.tensor(nearby, dtype=torch.long)
        return self.cache[entity]

    def add_bonus(self, scores: torch.Tensor, heads: Sequence[int]) -> torch.Tensor:
        rows, columns = [], []
        for row, head in enumerate(heads):
            nearby = self.neighborhood(head)
            rows.append(torch.full_like(nearby, row))
            columns.append(nearby)
        bonus = torch.zeros_like(scores)  # (c, E)
        rows_tensor = torch.cat(rows).to(scores.device)
        columns_tensor = torch.cat(columns).to(scores.device)
        bonus[rows_tensor, columns_tensor] = RERANK_WEIGHT
        return scores + bonus


def _filter_mask(
    known: KnownTriples, heads: list[int], relations: list[int], shape: torch.Size, device
) -> torch.Tensor:
    """Mark every known tail of each query; ``filtered_ranks`` keeps the gold one."""
    rows, columns = [], []
    for row, (head, relation) in enumerate(zip(heads, relations, strict=True)):
        answers = known.tails_of(head, relation)
        rows.extend([row] * len(answers))
        columns.extend(answers)
    mask = torch.zeros(shape, dtype=torch.bool, device=device)  # (c, E)
    rows_tensor = torch.tensor(rows, dtype=torch.long, device=device)
    columns_tensor = torch.tensor(columns, dtype=torch.long, device=device)
    mask[rows_tensor, columns_tensor] = True
    return mask


@torch.no_grad()
def rank_queries(
    model: nn.Module,
    batcher: KgcBatcher,
    queries: torch.Tensor,
    entity_embeddings: torch.Tensor,
    known: KnownTriples,
    batch_size: int = 128,
    link_graph: list[list[int]] | None = None,
    description: str = "ranking",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the filtered ranks of ``(n, 3)`` query triples, and the re-ranked ones (or None)."""
    device = entity_embeddings.device
    reranker = None if link_graph is None else _Reranker(link_graph)
    ranks, reranked = [], []

    starts = range(0, queries.shape[0], batch_size)
    for start in tqdm(starts, desc=description, disable=_progress_disabled()):
        chunk = queries[start : start + batch_size]
        heads, relations, tails = chunk.unbind(dim=1)
        batch = batcher.query_batch(heads, relations).to(device)

        embeddings = model.encode_queries(batch).float()  # (c, d)
        scores = embeddings @ entity_embeddings.t()  # (c, E)
        mask = _filter_mask(known, heads.tolist(), relations.tolist(), scores.shape, device)
        ranks.append(filtered_ranks(scores, tails, mask).cpu())
        if reranker is not None:
            boosted = reranker.add_bonus(scores, heads.tolist())
            reranked.append(filtered_ranks(boosted, tails, mask).cpu())

    return torch.cat(ranks), (torch.cat(reranked) if reranker is not None else None)


def _named(metrics: dict[str, float], prefix: str, suffix: str = "") -> dict[str, float]:
    return {f"{prefix}_{name}{suffix}": value for name, value in metrics.items()}


def _direction_metrics(
    ranks: dict[str, torch.Tensor], prefix: str, suffix: str
) -> dict[str, float]:
    """Per-direction metrics and their mean, named ``{prefix}[_direction]_{metric}{suffix}``."""
    per_direction = {direction: ranking_metrics(ranks[direction]) for direction in DIRECTIONS}
    names = per_direction["forward"].keys()
    average = {name: sum(m[name] for m in per_direction.values()) / 2 for name in names}

    output = _named(average, prefix, suffix)
    for direction, metrics in per_direction.items():
        output.update(_named(metrics, f"{prefix}_{direction}", suffix))
    return output


def evaluate_kgc(
    model: nn.Module,
    batcher: KgcBatcher,
    triples: torch.Tensor,
    known: KnownTriples,
    num_relations: int,
    device: torch.device | str,
    batch_size: int = 128,
    max_triples: int | None = None,
    seed: int = 0,
    link_graph: list[list[int]] | None = None,
    prefix: str = "val",
    entity_embeddings: torch.Tensor | None = None,
) -> dict[str, float]:
    """Evaluate forward and backward link prediction on ``(n, 3)`` forward triples.

    ``known`` is the filter set (with inverse triples), ``link_graph`` the training graph for
    re-ranking (None: no re-ranking). Returns ``{prefix}_mrr``, ``{prefix}_hits1/3/10`` (the
    mean of both directions), the same per direction (``{prefix}_forward_mrr``, ...), their
    ``_rerank`` variants when re-ranking, and ``{prefix}_triples``. Pass ``entity_embeddings``
    from ``embed_entities`` of the same model to skip embedding the entities again.
    """
    triples = sample_triples(triples, max_triples, seed, "--eval-max-triples")
    queries = {
        "forward": triples,
        "backward": add_inverse_triples(triples, num_relations)[triples.shape[0] :],
    }

    was_training = model.training
    model.eval()
    try:
        if entity_embeddings is None:
            entity_embeddings = embed_entities(model, batcher, device, batch_size)
        ranks, reranked = {}, {}
        for direction, direction_queries in queries.items():
            ranks[direction], reranked[direction] = rank_queries(
                model, batcher, direction_queries, entity_embeddings, known,
                batch_size, link_graph, description=f"ranking {direction}",
            )  # fmt: skip
    finally:
        model.train(was_training)

    metrics = _direction_metrics(ranks, prefix, "")
    if link_graph is not None:
        metrics.update(_direction_metrics(reranked, prefix, "_rerank"))
    metrics[f"{prefix}_triples"] = float(triples.shape[0])
    logger.info(
        "%s: %d triples, MRR %.4f, Hits@1 %.4f, Hits@10 %.4f",
        prefix, triples.shape[0], metrics[f"{prefix}_mrr"],
        metrics[f"{prefix}_hits1"], metrics[f"{prefix}_hits10"],
    )  # fmt: skip
    return metrics


@torch.no_grad()
def predict_tails(
    model: nn.Module,
    batcher: KgcBatcher,
    relations: Sequence[int],
    k: int = 10,
    head_entities: Sequence[int] | None = None,
    head_texts: Sequence[str] | None = None,
    entity_embeddings: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the top-``k`` tail entity indices and scores of each query, both ``(n, k)``.

    Give heads either as entity indices (``head_entities``) or as free texts (``head_texts``,
    for entities outside the graph). Nothing is filtered. Pass ``entity_embeddings`` from
    ``embed_entities`` to reuse them across calls.
    """
    if (head_entities is None) == (head_texts is None):
        raise ValueError("predict_tails needs exactly one of head_entities and head_texts")
    num_queries = len(head_entities if head_entities is not None else head_texts)
    if num_queries == 0:
        raise ValueError("predict_tails needs at least one query, got none")
    if len(relations) != num_queries:
        raise ValueError(f"got {num_queries} heads but {len(relations)} relations; pass one each")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")

    was_training = model.training
    model.eval()
    try:
        if entity_embeddings is None:
            entity_embeddings = embed_entities(model, batcher, device, batch_size)
        indices, values = [], []
        for start in range(0, num_queries, batch_size):
            end = min(start + batch_size, num_queries)
            batch = _prediction_batch(batcher, relations, head_entities, head_texts, start, end)
            queries = model.encode_queries(batch.to(device)).float()  # (c, d)
            scores = queries @ entity_embeddings.to(device).t()  # (c, E)
            top = scores.topk(min(k, scores.shape[1]), dim=1)
            indices.append(top.indices.cpu())
            values.append(top.values.cpu())
    finally:
        model.train(was_training)
    return torch.cat(indices), torch.cat(values)


def _prediction_batch(
    batcher: KgcBatcher,
    relations: Sequence[int],
    head_entities: Sequence[int] | None,
    head_texts: Sequence[str] | None,
    start: int,
    end: int,
):
    relation_tensor = torch.tensor(list(relations[start:end]), dtype=torch.long)
    if head_entities is not None:
        heads = torch.tensor(list(head_entities[start:end]), dtype=torch.long)
        return batcher.query_batch(heads, relation_tensor)
    return batcher.text_query_batch(list(head_texts[start:end]), relation_tensor)
