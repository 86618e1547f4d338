"""Synthetic C-STS files for tests: random sentences from a small vocabulary, never real data."""

from __future__ import annotations

import csv
import random
from pathlib import Path

SUBJECTS = ["the man", "a woman", "the dog", "a cat", "the person"]
VERBS = ["plays", "runs", "eats"]
OBJECTS = ["a red ball", "the blue guitar", "in the park", "in the city", "big food"]
CONDITIONS = ["the color", "the animal", "the action", "the number", "the place", "the food"]


def write_synthetic_csts(
    folder: str | Path, pairs: dict[str, int] | None = None, seed: int = 0
) -> Path:
    """Write csts_{train,validation,test}.csv with ``pairs[split]`` sentence pairs each.

    Each pair has two rows with different conditions; the test split's labels are hidden (-1).
    """
    pairs = pairs or {"train": 12, "validation": 7, "test": 5}
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in pairs.items():
        with open(folder / f"csts_{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sentence1", "sentence2", "condition", "label"])
            for index in range(count):
                first = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {index}"
                second = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
                for condition in rng.sample(CONDITIONS, 2):
                    label = -1 if split == "test" else rng.randint(1, 5)
                    writer.writerow([first, second, condition, label])
    return folder
