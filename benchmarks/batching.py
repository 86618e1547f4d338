"""Benchmark the de-duplicated C-STS batch layout against the layout of the released Hyper-CL code.

    python benchmarks/batching.py --data-dir ../shared/data/csts --batches 12 \
        --output benchmarks/results/batching.json

Both layouts train the same MiniLM tri-encoder encoder on the same C-STS batches of 32 rows:

- baseline (released code): every row encodes sentence1, sentence2 and its condition, so a
  quadruplet sends each sentence twice, and all sequences of the batch are padded to the
  longest of them;
- ours: each distinct sentence and condition of the batch once, sentences and conditions
  padded separately to their own longest.

Timings alternate between the layouts batch by batch, so machine noise hits both alike, and
the result is reported as a ratio. Only counts and timings are written, never any text.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from hypercl.data.archive import resolve_csts_dir
from hypercl.data.csts import load_csts, pair_quadruplets
from hypercl.data.csts_batching import CstsCollator, CstsTokenizedSplit
from hypercl.models.encoder import load_encoder


def baseline_inputs(batch, split: CstsTokenizedSplit, pad_id: int) -> dict[str, torch.Tensor]:
    """Build one tensor with s1, s2 and c of every row, all padded to the batch's longest."""
    sequences = []
    for row in batch.row_index.tolist():
        sequences.append(split.sentences.input_ids[split.sentence1_ids[row]])
        sequences.append(split.sentences.input_ids[split.sentence2_ids[row]])
        sequences.append(split.conditions.input_ids[split.condition_ids[row]])
    length = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for index, sequence in enumerate(sequences):
        input_ids[index, : len(sequence)] = torch.tensor(sequence)
        attention_mask[index, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def step_seconds(encoder, groups: list[dict[str, torch.Tensor]]) -> float:
    """Time one forward + backward pass of the encoder over the groups of one batch."""
    began = time.perf_counter()
    total = sum(encoder(**inputs).sum() for inputs in groups)
    total.backward()
    encoder.zero_grad(set_to_none=True)
    return time.perf_counter() - began


def slots(groups: list[dict[str, torch.Tensor]]) -> tuple[int, int, int]:
    real = sum(int(g["attention_mask"].sum()) for g in groups)
    padded = sum(int(g["input_ids"].numel()) for g in groups)
    sequences = sum(int(g["input_ids"].shape[0]) for g in groups)
    return real, padded, sequences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--password-file")
    parser.add_argument("--batches", type=int, default=12, help="batches timed per layout")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="benchmarks/results/batching.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    examples = load_csts(resolve_csts_dir(args.data_dir, args.password_file), splits=("train",))[
        "train"
    ]
    quadruplets, _ = pair_quadruplets(examples)
    encoder, tokenizer = load_encoder("minilm", "avg")
    encoder.train()
    split = CstsTokenizedSplit(examples, tokenizer, "tri_encoder", 128)
    collator = CstsCollator(split)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(quadruplets), generator=generator).tolist()
    per_batch = args.batch_size // 2

    # whole-split padding efficiency of both layouts
    totals = {"ours": [0, 0, 0], "baseline": [0, 0, 0]}
    batches = []
    for start in range(0, len(order), per_batch):
        batch = collator.collate_quadruplets(
            [quadruplets[i] for i in order[start : start + per_batch]]
        )
        ours = [batch.sentences, batch.conditions]
        baseline = [baseline_inputs(batch, split, tokenizer.pad_token_id)]
        for name, groups in (("ours", ours), ("baseline", baseline)):
            totals[name] = [a + b for a, b in zip(totals[name], slots(groups), strict=True)]
        if len(batches) < args.batches + 1:
            batches.append((ours, baseline))

    # forward + backward time, alternating layouts; the first batch warms up
    times = {"ours": [], "baseline": []}
    for index, (ours, baseline) in enumerate(batches):
        first, second = (("ours", ours), ("baseline", baseline))
        if index % 2:
            first, second = second, first
        for name, groups in (first, second):
            seconds = step_seconds(encoder, groups)
            if index:
                times[name].append(seconds)

    result = {
        "command": "python benchmarks/batching.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "cpu_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "timed_batches": len(times["ours"]),
    }
    for name, (real, padded, sequences) in totals.items():
        result[name] = {
            "token_slot_use": round(real / padded, 4),
            "encoder_sequences_per_epoch": sequences,
            "padded_token_slots_per_epoch": padded,
            "median_step_s": round(statistics.median(times[name]), 4),
            "rows_per_s": round(args.batch_size / statistics.median(times[name]), 2),
        }
    result["speedup_ours_over_baseline"] = round(
        result["baseline"]["median_step_s"] / result["ours"]["median_step_s"], 3
    )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
