"""A registered KGC model returns the same top-k tails for (head, relation) rows as hypercl.load."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

import hypercl
from hypercl.tasks.kgc import build_kgc_task
from hypercl.training.config import TrainConfig
from hypercl.training.trainer import Trainer
from tests.data.test_kgc import write_synthetic_graph
from tests.tiny_model import write_tiny_bert
from tracking.export import export_model
from tracking.registry import register_best
from tracking.runs import start_study_run


@pytest.fixture(scope="module")
def kgc_model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("kgc")
    config = TrainConfig(
        task="kgc", data_dir=str(write_synthetic_graph(root / "graph")),
        model=str(write_tiny_bert(root / "tiny")), pooler="avg", encoding="bi_encoder",
        batch_size=4, eval_batch_size=4, max_seq_length=32, epochs=1, lr=1e-3,
    )  # fmt: skip
    Trainer(config, build_kgc_task(config), root / "run").fit()
    return root / "run" / "best"


def test_pyfunc_kgc_champion_ranks_like_hypercl(tracking_uri, kgc_model_dir, monkeypatch):
    _, parent = start_study_run(tracking_uri, "kgc-study", "s", {}, {})
    registration = register_best(
        tracking_uri, kgc_model_dir, task="kgc", space="tiny", metric="val_mrr", mode="max",
        metrics={"val_mrr": 0.5}, data_digest="d", parent_run_id=parent, trial_run_id=None,
    )  # fmt: skip
    assert registration.champion_moved
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)

    local = hypercl.load(kgc_model_dir)
    heads = list(local.data.entity_ids[:2])
    relations = [local.data.relations[0], local.data.relations[-1]]
    expected = local.predict_tails(heads, relations, k=4)

    served = mlflow.pyfunc.load_model(f"models:/{registration.name}@champion")
    frame = served.predict(pd.DataFrame({"head": heads, "relation": relations}), params={"k": 4})
    assert list(frame["tails"].map(list)) == [[entity for entity, _ in row] for row in expected]
    for scores, row in zip(frame["scores"], expected, strict=True):
        assert list(scores) == pytest.approx([score for _, score in row], abs=1e-5)


def test_export_kgc_champion_loads_with_graph(tracking_uri, kgc_model_dir, tmp_path):
    _, parent = start_study_run(tracking_uri, "kgc-export", "s", {}, {})
    registration = register_best(
        tracking_uri, kgc_model_dir, task="kgc", space="tiny-export", metric="val_mrr",
        mode="max", metrics={"val_mrr": 0.5}, data_digest="d", parent_run_id=parent,
        trial_run_id=None,
    )  # fmt: skip
    folder = export_model(
        f"models:/{registration.name}@champion", tmp_path / "export", tracking_uri=tracking_uri
    )
    assert (folder / "kgc_data" / "train.txt").is_file()
    assert not (folder / "test_predictions.json").exists()
    assert "val_mrr" in (folder / "README.md").read_text()

    exported, original = hypercl.load(folder), hypercl.load(kgc_model_dir)
    heads = list(original.data.entity_ids[:2])
    relations = [original.data.relations[0]] * 2
    assert exported.predict_tails(heads, relations, k=3) == original.predict_tails(
        heads, relations, k=3
    )
