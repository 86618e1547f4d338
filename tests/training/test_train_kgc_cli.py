"""python -m hypercl.train --task kgc on a made-up graph: outputs and test ranking of the best model."""

import json

from hypercl.train import main as train_main
from tests.data.test_kgc import write_synthetic_graph


def test_train_cli_kgc_writes_test_metrics(tiny_model_dir, tmp_path):
    graph = write_synthetic_graph(tmp_path / "graph")
    out = tmp_path / "kgc"
    code = train_main([
        "--task", "kgc", "--data-dir", str(graph), "--model", str(tiny_model_dir),
        "--encoding", "bi_encoder", "--pooler", "avg", "--batch-size", "4", "--epochs", "1",
        "--max-seq-length", "32", "--lr", "1e-3", "--output-dir", str(out), "--test-metrics",
    ])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "val_mrr"
    for prefix in ("val", "test"):
        values = metrics["best"] if prefix == "val" else metrics["test"]
        for name in ("mrr", "hits1", "hits3", "hits10"):
            assert 0.0 <= values[f"{prefix}_{name}"] <= 1.0
    assert metrics["test"]["test_hits10"] >= metrics["test"]["test_hits1"]
    assert (out / "best" / "kgc_data" / "train.txt").is_file()
