"""WN18RR-style knowledge graphs: triples, entity and relation texts, filter sets, link graph.

A data folder contains ``train.txt``, ``valid.txt`` and ``test.txt`` (``head<TAB>relation<TAB>tail``)
and one entity file in either layout:

- ``entity2text.txt``: ``id<TAB>name, definition`` (the name is the text before the first ``, ``);
- ``wordnet-mlj12-definitions.txt``: ``id<TAB>__lemma_words_POS_sense<TAB>definition``.

Entities and relations become integer indices. Relation ``r`` of ``R`` training relations has
index ``r`` and its inverse ``r + R``, so every triple ``(h, r, t)`` also yields ``(t, r + R, h)``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SPLITS = ("train", "valid", "test")
ENTITY_FILES = ("entity2text.txt", "wordnet-mlj12-definitions.txt")
SHARED_DATA_ENV = "HYPERCL_SHARED_DATA"

# SimKGC's recipe: descriptions under 20 words get up to 10 neighbour names appended.
SHORT_DESCRIPTION_WORDS = 20
MAX_NEIGHBOR_NAMES = 10


@dataclass
class KgcData:
    """A knowledge graph with integer ids; triples are ``(n, 3)`` LongTensors of forward triples."""

    data_dir: Path
    entity_ids: list[str]
    entity_names: list[str]
    entity_descriptions: list[str]
    relations: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    files: list[Path]

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def num_relations(self) -> int:
        """Number of forward relations R; indices ``R .. 2R-1`` are their inverses."""
        return len(self.relations)

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def relation_texts(self) -> list[str]:
        """Texts of all ``2R`` relation indices: forward texts, then ``inverse ...`` texts."""
        forward = [relation_text(name) for name in self.relations]
        return forward + [f"inverse {text}" for text in forward]

    def relation_index(self, relation: str) -> int:
        """Map a raw name (``_hypernym``) or a relation text (``inverse hypernym``) to its index."""
        lookup = {name: index for index, name in enumerate(self.relations)}
        lookup.update({text: index for index, text in enumerate(self.relation_texts())})
        if relation not in lookup:
            raise ValueError(
                f"unknown relation {relation!r}; use a training relation name such as "
                f"{self.relations[0]!r} or a relation text such as {self.relation_texts()[-1]!r}"
            )
        return lookup[relation]


# --- texts ---------------------------------------------------------------------------------


def relation_text(relation: str) -> str:
    """Turn a relation name into text: ``_member_meronym`` -> ``member meronym``."""
    return relation.replace("_", " ").strip()


def name_from_lemma(lemma: str) -> str | None:
    """Turn ``__hot_dog_NN_2`` into ``hot dog``; return None when no word is left."""
    words = lemma.lstrip("_").split("_")[:-2]
    name = " ".join(word for word in words if word)
    return name or None


def entity_text(name: str, description: str) -> str:
    """Join name and description as ``name: description``, without repeating a leading name."""
    if description.startswith(name):
        description = description[len(name) :].strip()
    return f"{name}: {description}" if description else name


# --- reading -------------------------------------------------------------------------------


def default_kgc_dir() -> Path:
    """Return the WN18RR folder of the shared data: ``$HYPERCL_SHARED_DATA/wn18rr`` if set.

    Without the variable it is ``shared/data/wn18rr`` beside the repository checkout.
    """
    configured = os.environ.get(SHARED_DATA_ENV, "").strip()
    root = Path(configured) if configured else Path(__file__).resolve().parents[2].parent
    if not configured:
        root = root / "shared" / "data"
    return root / "wn18rr"


def find_entity_file(data_dir: Path) -> Path:
    """Return the entity file of ``data_dir``, preferring ``entity2text.txt`` when both exist."""
    for name in ENTITY_FILES:
        if (data_dir / name).is_file():
            return data_dir / name
    raise ValueError(
        f"no entity file in {data_dir}: expected one of {ENTITY_FILES}. "
        "Pass --data-dir pointing at a WN18RR folder."
    )


def read_entities(path: Path) -> tuple[list[str], list[str], list[str]]:
    """Read an entity file in either layout; return (ids, names, descriptions) in file order."""
    layout_fields = 2 if path.name == ENTITY_FILES[0] else 3
    ids, names, descriptions = [], [], []
    seen: set[str] = set()
    for line_number, fields in _tab_lines(path, layout_fields):
        entity = fields[0]
        if entity in seen:
            raise ValueError(f"{path}:{line_number}: entity {entity!r} is listed twice")
        seen.add(entity)

        if layout_fields == 2:
            name, _, description = fields[1].partition(", ")
        else:
            name = name_from_lemma(fields[1])
            description = fields[2]
            if name is None:
                raise ValueError(
                    f"{path}:{line_number}: entity name {fields[1]!r} is not of the form "
                    "__lemma_words_POS_sense"
                )
        ids.append(entity)
        names.append(name.strip())
        descriptions.append(description.strip())
    return ids, names, descriptions


def read_triples(
    path: Path,
    entity_index: dict[str, int],
    relation_index: dict[str, int],
    add_relations: bool,
) -> torch.Tensor:
    """Read ``head<TAB>relation<TAB>tail`` lines into a ``(n, 3)`` LongTensor of indices.

    New relations are added to ``relation_index`` when ``add_relations`` is set (the training
    split); otherwise an unseen relation raises ValueError with the file and line.
    """
    rows = []
    for line_number, (head, relation, tail) in _tab_lines(path, 3):
        for entity in (head, tail):
            if entity not in entity_index:
                raise ValueError(
                    f"{path}:{line_number}: entity {entity!r} is not in the entity file; "
                    "every triple entity needs a line there"
                )
        if relation not in relation_index:
            if not add_relations:
                raise ValueError(
                    f"{path}:{line_number}: relation {relation!r} does not occur in train.txt; "
                    "valid and test may only use training relations"
                )
            relation_index[relation] = len(relation_index)
        rows.append((entity_index[head], relation_index[relation], entity_index[tail]))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 3)


def _tab_lines(path: Path, num_fields: int) -> Iterable[tuple[int, list[str]]]:
    """Yield (1-based line number, fields) of each non-blank line, checking the field count."""
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t", num_fields - 1) if num_fields == 2 else line.split("\t")
            if len(fields) != num_fields:
                raise ValueError(
                    f"{path}:{line_number}: expected {num_fields} tab-separated fields, "
                    f"found {len(fields)}"
                )
            yield line_number, fields


def load_kgc_data(data_dir: str | Path) -> KgcData:
    """Read and validate a knowledge-graph folder (see the module docstring)."""
    data_dir = Path(data_dir)
    missing = [f"{split}.txt" for split in SPLITS if not (data_dir / f"{split}.txt").is_file()]
    if missing:
        raise ValueError(
            f"{data_dir} lacks {missing}: a knowledge-graph folder needs train.txt, valid.txt "
            "and test.txt. Pass --data-dir pointing at a WN18RR folder."
        )

    entity_file = find_entity_file(data_dir)
    ids, names, descriptions = read_entities(entity_file)
    entity_index = {entity: index for index, entity in enumerate(ids)}

    relation_index: dict[str, int] = {}
    splits = {
        split: read_triples(
            data_dir / f"{split}.txt", entity_index, relation_index, add_relations=split == "train"
        )
        for split in SPLITS
    }
    files = [entity_file] + [data_dir / f"{split}.txt" for split in SPLITS]
    return KgcData(
        data_dir=data_dir,
        entity_ids=ids,
        entity_names=names,
        entity_descriptions=descriptions,
        relations=list(relation_index),
        files=files,
        **splits,
    )


def data_digest(paths: Sequence[Path]) -> str:
    """Return one SHA-256 over the files' names and contents, in sorted name order."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda path: path.name):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def kgc_stats(data_dir: str | Path) -> dict[str, Any]:
    """Return entity, relation and per-split triple counts of a validated data folder."""
    data = load_kgc_data(data_dir)
    return {
        "data_dir": str(data.data_dir),
        "entity_file": data.files[0].name,
        "entities": data.num_entities,
        "relations": data.num_relations,
        **{f"{split}_triples": int(data.split(split).shape[0]) for split in SPLITS},
    }


# --- inverse triples, filter sets, link graph ----------------------------------------------


def sample_triples(
    triples: torch.Tensor, max_triples: int | None, seed: int, option: str = "max_triples"
) -> torch.Tensor:
    """Return a seeded subset of ``max_triples`` triples in their original order (all if None).

    ``option`` names the setting in the error message.
    """
    if max_triples is not None and max_triples < 1:
        raise ValueError(f"{option} must be >= 1 or unset, got {max_triples}")
    if max_triples is None or max_triples >= triples.shape[0]:
        return triples
    chosen = sorted(random.Random(seed).sample(range(triples.shape[0]), max_triples))
    return triples[chosen]


def add_inverse_triples(triples: torch.Tensor, num_relations: int) -> torch.Tensor:
    """Append ``(t, r + R, h)`` for every ``(h, r, t)``: ``(n, 3)`` -> ``(2n, 3)``."""
    heads, relations, tails = triples.unbind(dim=1)
    inverse = torch.stack([tails, relations + num_relations, heads], dim=1)  # (n, 3)
    return torch.cat([triples, inverse], dim=0)


class KnownTriples:
    """A set of triples over ``2R`` relation indices, for filtered ranking and negative masks.

    Membership is tested on int64 keys ``(h * 2R + r) * E + t``, which fit for graphs far
    larger than WN18RR (40,943 entities and 22 relation indices give keys below 4e10).
    """

    def __init__(self, triples: torch.Tensor, num_entities: int, num_relation_indices: int):
        self.num_entities = num_entities
        self.num_relation_indices = num_relation_indices
        heads, relations, tails = triples.long().unbind(dim=1)
        self.keys = torch.unique(self._keys(heads, relations, tails))  # sorted, (n_unique,)

        self.answers: dict[tuple[int, int], list[int]] = {}
        for head, relation, tail in triples.tolist():
            self.answers.setdefault((head, relation), []).append(tail)

    def _keys(self, heads: torch.Tensor, relations: torch.Tensor, tails: torch.Tensor):
        return (heads * self.num_relation_indices + relations) * self.num_entities + tails

    def contains(
        self, heads: torch.Tensor, relations: torch.Tensor, tails: torch.Tensor
    ) -> torch.Tensor:
        """Return whether each (broadcast) ``(h, r, t)`` is known, as a bool tensor."""
        keys = self._keys(heads.long(), relations.long(), tails.long())
        known = torch.isin(keys.cpu(), self.keys)
        return known.to(keys.device)

    def tails_of(self, head: int, relation: int) -> list[int]:
        """Return every known tail of ``(head, relation)`` (empty list when none)."""
        return self.answers.get((head, relation), [])


def known_triples(data: KgcData, splits: Sequence[str] = SPLITS) -> KnownTriples:
    """Build the filter set of ``splits`` with their inverse triples."""
    forward = torch.cat([data.split(split) for split in splits], dim=0)
    triples = add_inverse_triples(forward, data.num_relations)
    return KnownTriples(triples, data.num_entities, 2 * data.num_relations)


def build_link_graph(triples: torch.Tensor, num_entities: int) -> list[list[int]]:
    """Return each entity's neighbours in the undirected graph of ``triples``, sorted by index.

    Self-loops are left out, so an entity is never its own neighbour.
    """
    neighbors: list[set[int]] = [set() for _ in range(num_entities)]
    for head, _, tail in triples.tolist():
        if head != tail:
            neighbors[head].add(tail)
            neighbors[tail].add(head)
    return [sorted(entity_neighbors) for entity_neighbors in neighbors]


def entities_within_hops(graph: list[list[int]], start: int, hops: int) -> list[int]:
    """Return every entity at most ``hops`` edges from ``start``, ``start`` itself included."""
    seen = {start}
    frontier = deque([(start, 0)])
    while frontier:
        entity, distance = frontier.popleft()
        if distance == hops:
            continue
        for neighbor in graph[entity]:
            if neighbor not in seen:
                seen.add(neighbor)
                frontier.append((neighbor, distance + 1))
    return sorted(seen)


class EntityTexts:
    """Entity texts for the encoders, optionally with neighbour names for short descriptions.

    With ``neighbor_graph`` set, an entity whose description has fewer than 20 words gets the
    names of up to 10 neighbours (lowest index first) appended. The entity ``exclude`` is left
    out. During training it is the other entity of the triple, so that no text names its gold.
    """

    def __init__(self, data: KgcData, neighbor_graph: list[list[int]] | None = None):
        self.names = data.entity_names
        self.descriptions = data.entity_descriptions
        self.base = [entity_text(n, d) for n, d in zip(self.names, self.descriptions, strict=True)]
        self.neighbor_graph = neighbor_graph

    def __len__(self) -> int:
        return len(self.base)

    def appended_neighbors(self, entity: int, exclude: int | None = None) -> list[int]:
        """Return the neighbours whose names follow ``entity``'s text (empty without a graph)."""
        if self.neighbor_graph is None:
            return []
        if len(self.descriptions[entity].split()) >= SHORT_DESCRIPTION_WORDS:
            return []
        candidates = (n for n in self.neighbor_graph[entity] if n != exclude)
        return list(itertools.islice(candidates, MAX_NEIGHBOR_NAMES))

    def text(self, entity: int, exclude: int | None = None) -> str:
        """Return the text of ``entity``; ``exclude`` names an entity that must not appear."""
        names = [self.names[n] for n in self.appended_neighbors(entity, exclude)]
        return " ".join([self.base[entity], *names])

    def cache_key(self, entity: int, exclude: int | None) -> tuple[int, int | None]:
        """Return a key that is equal for two calls exactly when their texts are equal."""
        if exclude is None or exclude not in self.appended_neighbors(entity):
            return entity, None
        return entity, exclude
