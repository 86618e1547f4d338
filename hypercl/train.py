"""Train one Hyper-CL model without Ray or MLflow.

    python -m hypercl.train --task csts --data-dir ../shared/data/csts --model minilm \
        --head hypernet --scaler 8 --epochs 1 --output-dir outputs/minilm-hyper8

Writes ``OUT/config.json`` (resolved settings), ``OUT/metrics.json`` (every evaluation, the best
values, trainable parameters, wall time, examples per second), ``OUT/best/`` (the best model,
loadable with ``hypercl.load``) and ``OUT/last/`` (a checkpoint to resume from).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from hypercl.training.config import ENCODINGS, PRECISIONS, TASKS, TIED_PAIRS, TrainConfig

logger = logging.getLogger("hypercl.train")


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "") else float(text)


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m hypercl.train",
        description="Train one Hyper-CL model (C-STS or WN18RR knowledge-graph completion).",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--task", choices=TASKS, default=defaults.task)
    data.add_argument(
        "--data-dir", required=True, help="C-STS CSVs, a folder with csts.tar.enc, or WN18RR"
    )
    data.add_argument("--password-file", help="C-STS archive password file (else $CSTS_PASSWORD)")
    data.add_argument(
        "--max-train-rows", type=_optional_int, help="use only the first N training rows"
    )
    data.add_argument("--max-eval-rows", type=_optional_int, help="evaluate on the first N rows")
    data.add_argument(
        "--selection",
        choices=("validation", "holdout"),
        default=defaults.selection,
        help="split that selects the best checkpoint: validation, or a seeded 10%% "
        "holdout of the training pairs",
    )
    data.add_argument(
        "--eval-max-triples",
        type=_optional_int,
        help="KGC: evaluate a seeded subset of N triples (still ranked against all entities)",
    )
    data.add_argument(
        "--neighbor-names",
        action="store_true",
        help="KGC: append neighbour names to short descriptions",
    )
    data.add_argument(
        "--rerank", action="store_true", help="KGC: also report link-graph re-ranked metrics"
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        default=defaults.model,
        help="hub id or local folder; 'minilm' is the packaged all-MiniLM-L6-v2",
    )
    model.add_argument("--encoding", choices=ENCODINGS, default=defaults.encoding)
    model.add_argument("--head", default=defaults.head, help="hypernet, concat, hadamard or none")
    model.add_argument(
        "--scaler",
        type=int,
        default=defaults.scaler,
        help="hypernet rank K = floor(hidden size / scaler); 1 is full rank",
    )
    model.add_argument(
        "--dual", action="store_true", help="encode conditions with a second encoder copy"
    )
    model.add_argument("--pooler", default=defaults.pooler, help="cls or avg")
    model.add_argument("--dropout", type=float, default=defaults.dropout)
    model.add_argument("--max-seq-length", type=int, default=defaults.max_seq_length)

    objective = parser.add_argument_group("objective")
    objective.add_argument(
        "--objective",
        default=defaults.objective,
        help="mse, triplet, triplet_mse or triplet_cl_mse",
    )
    objective.add_argument("--temperature", type=float, default=defaults.temperature)
    objective.add_argument(
        "--in-batch-negatives",
        action="store_true",
        help="contrastive term over [cos_p, cos_n, 0.5 cos(p1,n1), 0.5 cos(p2,n2)]",
    )
    objective.add_argument(
        "--tied-pairs",
        choices=TIED_PAIRS,
        default=defaults.tied_pairs,
        help="exclude tied-label pairs from the contrastive term, or include them",
    )
    objective.add_argument(
        "--margin", type=float, default=defaults.margin, help="KGC additive margin"
    )
    objective.add_argument(
        "--init-temperature",
        type=float,
        default=defaults.init_temperature,
        help="KGC initial InfoNCE temperature (learned)",
    )
    objective.add_argument(
        "--pre-batch",
        type=int,
        default=defaults.pre_batch,
        help="KGC: number of previous batches whose tails are negatives",
    )
    objective.add_argument(
        "--no-self-negative",
        dest="self_negative",
        action="store_false",
        help="KGC: do not use the head entity as a negative",
    )

    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--lr", type=float, default=defaults.lr)
    optim.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    optim.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="training rows per batch"
    )
    optim.add_argument("--eval-batch-size", type=int, default=defaults.eval_batch_size)
    optim.add_argument("--epochs", type=int, default=defaults.epochs)
    optim.add_argument("--warmup-ratio", type=float, default=defaults.warmup_ratio)
    optim.add_argument(
        "--max-grad-norm",
        type=_optional_float,
        default=defaults.max_grad_norm,
        help="clip gradients to this norm (default: no clipping)",
    )
    optim.add_argument("--grad-accum-steps", type=int, default=defaults.grad_accum_steps)
    optim.add_argument(
        "--eval-steps",
        type=_optional_int,
        default=defaults.eval_steps,
        help="evaluate every N optimizer steps (default: every epoch)",
    )

    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", required=True)
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or cuda:N")
    run.add_argument("--precision", choices=PRECISIONS, default=defaults.precision)
    run.add_argument("--num-threads", type=_optional_int, help="torch CPU threads")
    run.add_argument(
        "--resume", metavar="CHECKPOINT", help="resume from OUT/last of an earlier run"
    )
    run.add_argument(
        "--test-metrics",
        action="store_true",
        help="KGC: also rank the test triples with the best model (--eval-max-triples of them)",
    )
    run.add_argument(
        "--predict-test",
        action="store_true",
        help="C-STS: write test_predictions.json for the test split with the best model",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{key: value for key, value in vars(args).items() if key in fields})


def write_json(path: Path, values: Any) -> None:
    path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def run(
    config: TrainConfig,
    output_dir: Path,
    resume: str | None = None,
    predict_test: bool = False,
    test_metrics: bool = False,
) -> dict:
    """Train with the settings of ``config``, write the output folder and return the metrics summary."""
    from hypercl.tasks import build_task
    from hypercl.training.trainer import Trainer

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    output_dir.mkdir(parents=True, exist_ok=True)
    task = build_task(config)
    config.save(output_dir / "config.json")
    trainer = Trainer(config, task, output_dir)
    result = trainer.fit(resume_from=resume)

    summary = {
        "metric": task.metric,
        "best": result.best_metrics,
        "history": result.history,
        "num_parameters": result.num_parameters,
        "wall_time_s": result.wall_time_s,
        "train_examples_per_s": result.train_examples_per_s,
        "data": task.describe(),
    }
    holdout_validation = config.task == "csts" and config.selection == "holdout"
    kgc_test = config.task == "kgc" and test_metrics
    if holdout_validation or kgc_test:
        _load_best_into(task, output_dir, trainer.device)
    if holdout_validation:
        summary["validation"] = task.evaluate_validation(trainer.device)
    if kgc_test:
        # The same seeded subset size as validation, drawn from the test triples.
        summary["test"] = task.test_metrics(trainer.device, max_triples=config.eval_max_triples)
    write_json(output_dir / "metrics.json", summary)
    if predict_test:
        _write_test_predictions(config, output_dir, trainer.device)
    return summary


def _load_best_into(task: Any, output_dir: Path, device: torch.device) -> None:
    """Replace the task's model by the best checkpoint, for reports after training."""
    from hypercl.checkpoint import load_model

    task.model, _, _ = load_model(output_dir / "best", device)


def _write_test_predictions(config: TrainConfig, output_dir: Path, device: torch.device) -> None:
    from hypercl.inference import load

    model = load(output_dir / "best", device=device)
    path = model.write_test_predictions(
        config.data_dir, output_dir / "test_predictions.json", password_file=config.password_file
    )
    logger.info("wrote test predictions to %s", path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    import transformers

    # Load reports and per-file progress bars of transformers add nothing to a training log.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        summary = run(
            config,
            Path(args.output_dir),
            resume=args.resume,
            predict_test=args.predict_test,
            test_metrics=args.test_metrics,
        )
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    best = {
        key: round(value, 4) for key, value in summary["best"].items() if key.startswith("val_")
    }
    best.update({key: round(value, 4) for key, value in summary.get("test", {}).items()})
    print(
        json.dumps(
            {
                "output_dir": args.output_dir,
                "best": best,
                "wall_time_s": round(summary["wall_time_s"], 1),
                "train_examples_per_s": round(summary["train_examples_per_s"], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
