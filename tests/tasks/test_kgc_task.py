"""End-to-end tests of the KGC task on a made-up graph with a tiny random BERT."""

from __future__ import annotations

import pytest
import torch

from hypercl.tasks.kgc import KgcTask, build_kgc_task
from hypercl.training.config import TrainConfig
from tests.data.test_kgc import write_synthetic_graph
from tests.tiny_model import write_tiny_bert

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def make_config(tmp_path, tiny_bert, **settings) -> TrainConfig:
    values = {
        "task": "kgc",
        "data_dir": str(write_synthetic_graph(tmp_path / "graph")),
        "model": str(tiny_bert),
        "pooler": "avg",
        "encoding": "bi_encoder",
        "head": "hypernet",
        "scaler": 4,
        "batch_size": 4,
        "eval_batch_size": 4,
        "max_seq_length": 32,
        "dropout": 0.0,
        **settings,
    }
    return TrainConfig(**values)


@pytest.mark.parametrize("encoding", ["bi_encoder", "tri_encoder"])
def test_kgc_task_loss_decreases(tmp_path, tiny_bert, encoding):
    torch.manual_seed(0)
    task = build_kgc_task(make_config(tmp_path, tiny_bert, encoding=encoding, pre_batch=1))
    optimizer = torch.optim.AdamW(task.model.parameters(), lr=1e-3)
    batch = next(iter(task.train_batches(epoch=0)))

    losses = []
    for _ in range(6):
        loss = task.loss(batch, CPU)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert len(task.pre_batch) == 4  # one batch of tails kept for the next step


def test_kgc_task_batches_cover_forward_and_inverse(tmp_path, tiny_bert):
    task = build_kgc_task(make_config(tmp_path, tiny_bert, batch_size=3))
    batches = list(task.train_batches(epoch=0))

    assert task.num_train_batches() == 3
    assert len(batches) == 3
    assert sum(task.batch_size(batch) for batch in batches) == 8
    relations = torch.cat([batch.relations for batch in batches])
    assert sorted(relations.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_kgc_task_evaluate_reports_val_metrics(tmp_path, tiny_bert):
    task = build_kgc_task(make_config(tmp_path, tiny_bert, rerank=True))
    metrics = task.evaluate(CPU)

    assert task.metric == "val_mrr"
    assert task.mode == "max"
    assert 0.0 < metrics["val_mrr"] <= 1.0
    assert metrics["val_mrr"] == pytest.approx(
        (metrics["val_forward_mrr"] + metrics["val_backward_mrr"]) / 2
    )
    assert "val_hits10_rerank" in metrics
    assert metrics["val_triples"] == 1.0


def test_kgc_task_test_metrics_use_test_split(tmp_path, tiny_bert):
    task = build_kgc_task(make_config(tmp_path, tiny_bert, encoding="tri_encoder"))
    metrics = task.test_metrics(CPU)
    assert set(metrics) >= {"test_mrr", "test_hits1", "test_hits3", "test_hits10"}
    assert not any(name.startswith("val_") for name in metrics)


def test_kgc_task_describe_sizes_and_digest(tmp_path, tiny_bert):
    task = build_kgc_task(make_config(tmp_path, tiny_bert, max_train_rows=3))
    description = task.describe()

    assert description["entities"] == 6
    assert description["relations"] == 2
    assert description["train_triples"] == 4
    assert description["train_examples"] == 6
    assert description["valid_triples"] == 1
    assert description["test_triples"] == 1
    assert len(description["digest"]) == 64


def test_kgc_task_predict_returns_entity_ids(tmp_path, tiny_bert):
    task = build_kgc_task(make_config(tmp_path, tiny_bert))
    predictions = task.predict(["100"], ["_hypernym"], k=3)

    assert len(predictions) == 1
    assert len(predictions[0]) == 3
    assert all(entity in task.data.entity_ids for entity, _ in predictions[0])
    scores = [score for _, score in predictions[0]]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValueError, match="unknown head entity ids"):
        task.predict(["999"], ["_hypernym"])


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"data_dir": None}, "--data-dir is required"),
        ({"margin": -0.1}, "--margin must be >= 0"),
        ({"pre_batch": -1}, "--pre-batch must be >= 0"),
        ({"eval_max_triples": 0}, "--eval-max-triples must be >= 1"),
        ({"encoding": "cross_encoder"}, "--encoding must be one of"),
    ],
)
def test_kgc_task_rejects_bad_settings(tmp_path, tiny_bert, settings, message):
    config = make_config(tmp_path, tiny_bert)
    for name, value in settings.items():
        setattr(config, name, value)
    with pytest.raises(ValueError, match=message):
        KgcTask(config)


def test_kgc_task_trains_with_trainer(tmp_path, tiny_bert):
    from hypercl.checkpoint import load_model
    from hypercl.training.trainer import Trainer

    config = make_config(tmp_path, tiny_bert, epochs=1, lr=1e-3, device="cpu", precision="fp32")
    task = build_kgc_task(config)
    result = Trainer(config, task, tmp_path / "run").fit()

    assert "val_mrr" in result.best_metrics
    model, _, loaded_config = load_model(result.best_dir)
    assert loaded_config.task == "kgc"
    assert sorted(name for name, _ in model.named_children()) == ["encoder", "tail_encoder"]
