"""The trainer on synthetic C-STS with a tiny random BERT: steps, evaluation, checkpoints, resume."""

import json

import pytest
import torch

import hypercl
from hypercl.inference import HyperClModel
from hypercl.tasks import build_task
from hypercl.tasks.csts import CstsTask
from hypercl.train import main as train_main
from hypercl.training.config import TrainConfig
from hypercl.training.trainer import Trainer


def make_config(model_dir, data_dir, **overrides) -> TrainConfig:
    values = dict(
        task="csts",
        data_dir=str(data_dir),
        model=str(model_dir),
        head="hypernet",
        scaler=4,
        pooler="avg",
        batch_size=4,
        eval_batch_size=4,
        epochs=2,
        lr=1e-3,
        weight_decay=0.1,
        temperature=1.5,
        max_seq_length=32,
        seed=7,
    )
    values.update(overrides)
    return TrainConfig(**values)


class Interrupt(Exception):
    pass


def record_losses(task: CstsTask) -> list[float]:
    """Wrap ``task.loss`` so every training loss is appended to the returned list."""
    losses: list[float] = []
    original = task.loss

    def loss(batch, device):
        value = original(batch, device)
        losses.append(value.item())
        return value

    task.loss = loss
    return losses


def test_trainer_takes_the_scheduled_number_of_steps(tiny_model_dir, csts_dir, tmp_path):
    config = make_config(tiny_model_dir, csts_dir, grad_accum_steps=2)
    task = build_task(config)
    trainer = Trainer(config, task, tmp_path / "run")
    result = trainer.fit()
    # 12 training pairs, 2 pairs per batch: 6 batches; 2 batches per step: 3 steps per epoch
    assert task.num_train_batches() == 6
    assert trainer.total_steps == 6
    assert trainer.progress.step == 6
    assert trainer.scheduler.get_last_lr()[0] == pytest.approx(0.0)
    assert [row["step"] for row in result.history] == [3, 6]
    assert [row["epoch"] for row in result.history] == [1.0, 2.0]


def test_evaluation_keeps_every_row_of_partial_batch(tiny_model_dir, csts_dir, tmp_path):
    # 7 validation pairs = 14 rows with an evaluation batch of 4: the last batch has 2 rows
    config = make_config(tiny_model_dir, csts_dir, eval_batch_size=4)
    task = build_task(config)
    scores = task.predict(task.selection_split, torch.device("cpu"))
    assert len(scores) == 14
    one_by_one = HyperClModel(task.model, task.tokenizer, config, torch.device("cpu"))
    rows = task.selection_examples
    expected = one_by_one.similarity(
        [r.sentence1 for r in rows],
        [r.sentence2 for r in rows],
        [r.condition for r in rows],
        batch_size=1,
    )
    assert scores == pytest.approx(expected, abs=1e-5)


def test_trainer_eval_steps_reports_between_epochs(tiny_model_dir, csts_dir, tmp_path):
    config = make_config(tiny_model_dir, csts_dir, eval_steps=4, epochs=1)
    reports = []
    trainer = Trainer(
        config,
        build_task(config),
        tmp_path / "run",
        callback=lambda metrics, path: reports.append((metrics["step"], path.name)),
    )
    trainer.fit()
    # 6 steps: evaluations at step 4 and at the end of training (step 6)
    assert reports == [(4, "last"), (6, "last")]


def test_saved_best_model_gives_identical_scores(tiny_model_dir, csts_dir, tmp_path):
    config = make_config(tiny_model_dir, csts_dir, epochs=1)
    task = build_task(config)
    trainer = Trainer(config, task, tmp_path / "run")
    trainer.fit()
    trained = task.predict(task.selection_split, torch.device("cpu"))

    loaded = hypercl.load(tmp_path / "run" / "best")
    rows = task.selection_examples
    scores = loaded.similarity(
        [r.sentence1 for r in rows], [r.sentence2 for r in rows], [r.condition for r in rows]
    )
    assert scores == pytest.approx(trained, abs=1e-6)
    saved = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert saved["head"] == "hypernet"
    assert saved["scaler"] == 4


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_gives_the_same_next_step_loss(tiny_model_dir, csts_dir, tmp_path, dropout):
    config = make_config(tiny_model_dir, csts_dir, dropout=dropout)

    # uninterrupted run: 6 batches per epoch, 2 epochs
    task = build_task(config)
    uninterrupted = record_losses(task)
    Trainer(config, task, tmp_path / "full").fit()
    assert len(uninterrupted) == 12

    # interrupted after the first evaluation (end of epoch 1), then resumed
    def stop(metrics, path):
        raise Interrupt

    task = build_task(config)
    with pytest.raises(Interrupt):
        Trainer(config, task, tmp_path / "cut", callback=stop).fit()
    task = build_task(config)
    resumed = record_losses(task)
    trainer = Trainer(config, task, tmp_path / "cut")
    result = trainer.fit(resume_from=tmp_path / "cut" / "last")

    assert resumed[0] == pytest.approx(uninterrupted[6], abs=1e-6)
    assert resumed == pytest.approx(uninterrupted[6:], abs=1e-5)
    assert [row["step"] for row in result.history] == [6, 12]


def test_trainer_stops_on_nan_loss_with_the_step(tiny_model_dir, csts_dir, tmp_path):
    config = make_config(tiny_model_dir, csts_dir)
    task = build_task(config)
    original = task.loss
    calls = []

    def loss(batch, device):
        calls.append(1)
        value = original(batch, device)
        return value * float("nan") if len(calls) == 3 else value

    task.loss = loss
    with pytest.raises(
        FloatingPointError, match=r"training loss is nan at step 3 \(epoch 1, batch 3\)"
    ):
        Trainer(config, task, tmp_path / "run").fit()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"head": "mlp"}, "head"),
        ({"scaler": 64}, "scaler 64 is larger than the hidden size"),
        ({"temperature": 0.0}, r"--temperature must be > 0, got 0.0"),
        ({"batch_size": 5}, r"--batch-size must be an even number >= 2"),
        ({"objective": "cosine"}, r"--objective must be one of"),
    ],
)
def test_build_task_rejects_bad_arguments(tiny_model_dir, csts_dir, overrides, message):
    with pytest.raises(ValueError, match=message):
        build_task(make_config(tiny_model_dir, csts_dir, **overrides))


def tiny_cli_args(model_dir, data_dir, out) -> list[str]:
    """Command-line arguments of a one-epoch run of the tiny model on synthetic C-STS."""
    return [
        "--task", "csts", "--data-dir", str(data_dir), "--model", str(model_dir),
        "--scaler", "4", "--pooler", "avg", "--batch-size", "4", "--epochs", "1",
        "--max-seq-length", "32", "--output-dir", str(out),
    ]  # fmt: skip


def test_train_cli_writes_outputs(tiny_model_dir, csts_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = train_main([*tiny_cli_args(tiny_model_dir, csts_dir, out), "--predict-test"])

    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "val_spearman"
    assert len(metrics["history"]) == 1
    assert metrics["num_parameters"] > 0
    assert metrics["train_examples_per_s"] > 0
    assert set(metrics["best"]) >= {"val_spearman", "val_pearson", "train_loss", "epoch", "step"}

    predictions = json.loads((out / "test_predictions.json").read_text())
    assert list(predictions) == [str(i) for i in range(10)]
    assert json.loads((out / "config.json").read_text())["scaler"] == 4


def test_train_cli_reports_bad_argument_without_traceback(
    tiny_model_dir, csts_dir, tmp_path, capsys
):
    code = train_main(
        [
            "--data-dir",
            str(csts_dir),
            "--model",
            str(tiny_model_dir),
            "--temperature",
            "-1",
            "--output-dir",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2
    assert "error: --temperature must be > 0, got -1.0" in capsys.readouterr().err


def test_split_holdout_keeps_pairs_whole():
    from hypercl.data.csts import Quadruplet
    from hypercl.tasks.csts import split_holdout

    quadruplets = [Quadruplet(high=2 * i, low=2 * i + 1, tied=False) for i in range(20)]
    train, holdout = split_holdout(quadruplets, 0.1, seed=3)
    assert len(holdout) == 2
    assert len(train) == 18
    assert set(train).isdisjoint(holdout)
    assert set(train) | set(holdout) == set(quadruplets)
    assert split_holdout(quadruplets, 0.1, seed=3) == (train, holdout)
    with pytest.raises(ValueError, match=r"holdout fraction must be in \(0, 1\), got 1.0"):
        split_holdout(quadruplets, 1.0, seed=3)


def test_train_cli_holdout_reports_validation(tiny_model_dir, csts_dir, tmp_path):
    out = tmp_path / "holdout"
    code = train_main([*tiny_cli_args(tiny_model_dir, csts_dir, out), "--selection", "holdout"])

    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # 12 training pairs: 1 held out (10 %, rounded), 11 trained on; validation reported apart
    assert metrics["data"]["selection"] == "holdout"
    assert metrics["data"]["selection_rows"] == 2
    assert metrics["data"]["train_quadruplets"] == 11
    assert set(metrics["validation"]) == {"validation_spearman", "validation_pearson"}
