"""Zero-shot link prediction on WN18RR with an untrained SimKGC bi-encoder, written as JSON.

Both encoders start as the same pretrained checkpoint (all-MiniLM-L6-v2 by default, mean
pooling). The script times tokenisation and the embedding of all entities, then ranks a seeded
subset of test triples (forward and backward) against every entity in the filtered setting::

    python benchmarks/kgc_zero_shot.py --data-dir ../shared/data/wn18rr \\
        --max-triples 500 --output kgc_zero_shot.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import torch

from hypercl.data.kgc import default_kgc_dir
from hypercl.evaluation.kgc import embed_entities, evaluate_kgc
from hypercl.tasks.kgc import build_kgc_task
from hypercl.training.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_kgc_dir(),
        help="WN18RR folder (default: $HYPERCL_SHARED_DATA/wn18rr, else shared/data/wn18rr "
        "beside the checkout)",
    )
    parser.add_argument("--output", type=Path, required=True, help="path of the JSON results")
    parser.add_argument(
        "--model", default="minilm", help="backbone name or folder (default: minilm)"
    )
    parser.add_argument(
        "--max-triples", type=int, default=500, help="test triples to rank (default: 500)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the test subset (default: 0)")
    parser.add_argument(
        "--max-seq-length", type=int, default=50, help="tokens per text (default: 50)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="texts per forward pass (default: 256)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--rerank", action="store_true", help="also report link-graph re-ranking")
    return parser


def run(args: argparse.Namespace) -> dict:
    """Build the task, embed all entities, rank the test subset and return the results."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = TrainConfig(
        task="kgc", data_dir=str(args.data_dir), model=args.model, pooler="avg",
        encoding="bi_encoder", max_seq_length=args.max_seq_length,
        eval_batch_size=args.batch_size, seed=args.seed, rerank=args.rerank,
    )  # fmt: skip

    start = time.perf_counter()
    task = build_kgc_task(config)
    setup_s = time.perf_counter() - start
    model = task.model.to(device).eval()

    start = time.perf_counter()
    embeddings = embed_entities(model, task.batcher, device, args.batch_size)
    embed_s = time.perf_counter() - start

    start = time.perf_counter()
    metrics = evaluate_kgc(
        model, task.batcher, task.data.test, task.all_known, task.data.num_relations, device,
        batch_size=args.batch_size, max_triples=args.max_triples, seed=args.seed,
        link_graph=task.link_graph, prefix="test", entity_embeddings=embeddings,
    )  # fmt: skip
    rank_s = time.perf_counter() - start

    return {
        "model": args.model,
        "encoding": "bi_encoder (untrained, mean pooling)",
        "data": task.describe(),
        "max_seq_length": args.max_seq_length,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "metrics": metrics,
        "setup_s": setup_s,  # load data and model, tokenise every entity text
        "embed_entities_s": embed_s,
        "entities_per_s": task.data.num_entities / embed_s,
        "rank_queries_s": rank_s,  # encode and rank forward and backward queries
        "queries_per_s": 2 * metrics["test_triples"] / rank_s,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = run(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
