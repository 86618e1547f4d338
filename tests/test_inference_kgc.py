"""hypercl.load of a trained KGC model ranks tails of (head, relation) queries like the task."""

import pytest
import torch

import hypercl
from hypercl.tasks.kgc import build_kgc_task
from hypercl.training.config import TrainConfig
from hypercl.training.trainer import Trainer
from tests.data.test_kgc import write_synthetic_graph
from tests.tiny_model import write_tiny_bert


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("kgc-model")
    config = TrainConfig(
        task="kgc",
        data_dir=str(write_synthetic_graph(root / "graph")),
        model=str(write_tiny_bert(root / "tiny")),
        pooler="avg",
        encoding="tri_encoder",
        head="hypernet",
        scaler=4,
        batch_size=4,
        eval_batch_size=4,
        max_seq_length=32,
        epochs=1,
        lr=1e-3,
    )
    task = build_kgc_task(config)
    Trainer(config, task, root / "run").fit()
    return root / "run" / "best", config


def test_kgc_model_folder_carries_its_graph(trained):
    folder, config = trained
    assert (folder / "kgc_data" / "train.txt").read_text() == (
        (folder.parents[1] / "graph" / "train.txt").read_text()
    )


def test_kgc_load_predicts_like_task(trained):
    folder, config = trained
    model = hypercl.load(folder)
    task = build_kgc_task(config)
    task.model = hypercl.load(folder).model
    heads = list(model.data.entity_ids[:3])
    relations = [
        model.data.relations[0],
        f"inverse {model.data.relation_texts()[0]}",
        model.data.relations[-1],
    ]
    predicted = model.predict_tails(heads, relations, k=3)
    expected = task.predict(heads, relations, k=3)
    assert len(predicted) == 3
    assert all(len(row) == 3 for row in predicted)
    for row, reference in zip(predicted, expected, strict=True):
        assert [entity for entity, _ in row] == [entity for entity, _ in reference]
        assert [score for _, score in row] == pytest.approx([s for _, s in reference], abs=1e-5)
        scores = [score for _, score in row]
        assert scores == sorted(scores, reverse=True)


def test_kgc_load_rejects_unknown_head(trained):
    model = hypercl.load(trained[0])
    with pytest.raises(ValueError, match=r"unknown head entity ids \['nope'\]"):
        model.predict_tails(["nope"], [model.data.relations[0]])
    with pytest.raises(ValueError, match="equal lengths, got 1 and 2"):
        model.predict_tails(["x"], ["a", "b"])


def test_kgc_model_has_no_similarity(trained):
    model = hypercl.load(trained[0])
    assert not hasattr(model, "similarity")
    assert torch.is_tensor(model.entity_embeddings())
