"""Command-line arguments of ``tune/run.py``."""

from __future__ import annotations

import argparse

from hypercl.training.config import TASKS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tune/run.py",
        description="Search Hyper-CL hyperparameters with Ray Tune, Optuna (TPE) and ASHA, "
        "tracked in MLflow.",
    )
    parser.add_argument(
        "--list-spaces", action="store_true", help="print the search spaces and exit"
    )

    study = parser.add_argument_group("study")
    study.add_argument("--task", choices=TASKS, default="csts")
    study.add_argument("--space", default="minilm", help="a registered space name or a YAML file")
    study.add_argument(
        "--model", help="override the space's backbone (hub id, local folder or 'minilm')"
    )
    study.add_argument(
        "--data-dir", help="C-STS CSVs or a folder with csts.tar.enc; WN18RR for kgc"
    )
    study.add_argument(
        "--password-file",
        help="C-STS archive password (else $CSTS_PASSWORD or DATA_DIR/password.txt)",
    )
    study.add_argument(
        "--selection",
        choices=("validation", "holdout"),
        default="validation",
        help="split that picks the winner: validation (as published), or a seeded "
        "10%% holdout of the training pairs, keeping validation unseen",
    )
    study.add_argument("--name", help="study name: Ray experiment folder and MLflow experiment")
    study.add_argument(
        "--seed", type=int, default=42, help="seed of the TPE sampler and of every trial"
    )

    budget = parser.add_argument_group("budget")
    budget.add_argument("--num-samples", type=int, default=8, help="number of trials")
    budget.add_argument(
        "--max-epochs", type=int, help="epochs per trial (ASHA's max_t); default: the space's"
    )
    budget.add_argument(
        "--max-train-rows", type=int, help="train on the first N rows (small CPU runs)"
    )
    budget.add_argument("--max-eval-rows", type=int, help="evaluate on the first N rows")
    budget.add_argument(
        "--eval-max-triples", type=int, help="KGC: evaluate on a seeded subset of N triples"
    )
    budget.add_argument(
        "--time-budget-s", type=float, help="stop the whole search after this many seconds"
    )
    budget.add_argument(
        "--grace-period",
        type=int,
        default=1,
        help="ASHA: evaluations before a trial can be stopped",
    )
    budget.add_argument(
        "--reduction-factor",
        type=float,
        default=4.0,
        help="ASHA: a trial passes a rung only if it is in the top 1/factor of the trials "
        "recorded there (default 4, as in Ray's ASHAScheduler)",
    )

    resources = parser.add_argument_group("resources")
    resources.add_argument("--max-concurrent", type=int, default=4, help="trials running at once")
    resources.add_argument("--cpus-per-trial", type=float, default=2.0)
    resources.add_argument(
        "--gpus-per-trial", type=float, default=0.0, help="fractions allowed, e.g. 0.5"
    )
    resources.add_argument("--max-failures", type=int, default=1, help="retries of a failed trial")
    resources.add_argument(
        "--address",
        help="join a running Ray cluster (e.g. 127.0.0.1:6379); default: start Ray locally",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--storage-path", default="./ray_results", help="Ray results folder")
    output.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted study --name (default: the latest one)",
    )
    output.add_argument(
        "--tracking-uri", help="MLflow tracking URI; default: ./mlflow.db (SQLite)"
    )
    output.add_argument(
        "--no-register",
        dest="register",
        action="store_false",
        help="do not register the best model in the MLflow Model Registry",
    )
    output.add_argument(
        "--keep-checkpoints",
        type=int,
        default=3,
        help="after the search, keep the best checkpoint of this many top trials and delete "
        "the other checkpoints",
    )
    output.add_argument("--top", type=int, default=5, help="rows in the final table of trials")
    return parser
