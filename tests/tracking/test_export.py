"""Tests of tracking.export: folder contents, loading without MLflow, --force, the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

import hypercl
from tests.synthetic import write_synthetic_csts
from tests.tracking.conftest import CONDITIONS, SENTENCES1, SENTENCES2, process_env
from tracking.export import export_model, main, parse_model_uri
from tracking.registry import register_best
from tracking.runs import TrialRun, start_study_run

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = "hypercl-csts-tiny"


def register(tracking_uri, model_dir):
    experiment_id, parent_run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    trial = TrialRun(
        tracking_uri, experiment_id, parent_run_id, "t1", "trial_1", {"lr": 3e-5, "scaler": 2}
    )
    trial.log_metrics({"val_spearman": 71.2345, "epoch": 3}, step=3)
    registration = register_best(
        tracking_uri,
        model_dir,
        task="csts",
        space="tiny",
        metric="val_spearman",
        mode="max",
        metrics={"val_spearman": 71.2345, "val_pearson": 70.5},
        data_digest="sha256-of-data",
        parent_run_id=parent_run_id,
        trial_run_id=trial.run_id,
    )
    return registration, trial.run_id


def test_export_writes_loadable_folder(tracking_uri, trained_model_dir, expected_scores, tmp_path):
    register(tracking_uri, trained_model_dir)
    data_dir = write_synthetic_csts(
        tmp_path / "csts", pairs={"train": 2, "validation": 2, "test": 3}
    )
    output_dir = tmp_path / "export"

    export_model(
        f"models:/{NAME}@champion", output_dir, tracking_uri=tracking_uri, data_dir=data_dir
    )

    files = {path.relative_to(output_dir).as_posix() for path in output_dir.rglob("*")}
    assert {"config.json", "head.safetensors", "README.md", "test_predictions.json"} <= files
    assert {"encoder/model.safetensors", "encoder/tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    model = hypercl.load(output_dir)
    assert model.similarity(SENTENCES1, SENTENCES2, CONDITIONS) == pytest.approx(
        expected_scores, abs=1e-6
    )

    predictions = json.loads((output_dir / "test_predictions.json").read_text())
    with open(data_dir / "csts_test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = model.similarity(
        [row["sentence1"] for row in rows],
        [row["sentence2"] for row in rows],
        [row["condition"] for row in rows],
    )
    assert list(predictions) == [str(index) for index in range(6)]
    assert list(predictions.values()) == pytest.approx(expected, abs=1e-6)


def test_export_model_card_has_metrics(tracking_uri, trained_model_dir, tmp_path):
    registration, trial_run_id = register(tracking_uri, trained_model_dir)

    export_model(f"models:/{NAME}/1", tmp_path / "export", tracking_uri=tracking_uri)

    card = (tmp_path / "export" / "README.md").read_text()
    assert f"# {NAME} version 1" in card
    assert "| val_spearman | 71.2345 |" in card
    assert "| val_pearson | 70.5000 |" in card
    assert "| Data digest | `sha256-of-data` |" in card
    assert "| Aliases | champion |" in card
    assert f"| Trial run | `{trial_run_id}` |" in card
    assert "| lr | `3e-05` |" in card
    assert "| scaler | `2` |" in card
    assert '"task": "csts"' in card
    assert not (tmp_path / "export" / "test_predictions.json").exists()


def test_export_folder_loads_without_mlflow(
    tracking_uri, trained_model_dir, expected_scores, tmp_path
):
    register(tracking_uri, trained_model_dir)
    output_dir = export_model(
        f"models:/{NAME}@champion", tmp_path / "export", tracking_uri=tracking_uri
    )
    script = (
        "import json, sys\n"
        "sys.modules['mlflow'] = None  # any import of mlflow now raises ImportError\n"
        "import hypercl\n"
        f"model = hypercl.load({str(output_dir)!r})\n"
        f"print(json.dumps(model.similarity({SENTENCES1!r}, {SENTENCES2!r}, {CONDITIONS!r})))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores == pytest.approx(expected_scores, abs=1e-6)


def test_export_rejects_non_empty_folder_without_force(tmp_path):
    output_dir = tmp_path / "taken"
    output_dir.mkdir()
    (output_dir / "notes.txt").write_text("keep me")

    with pytest.raises(ValueError, match=r"--output-dir .*taken is not empty; pass --force"):
        export_model(
            f"models:/{NAME}@champion", output_dir, tracking_uri=f"sqlite:///{tmp_path}/x.db"
        )
    with pytest.raises(ValueError, match="is not a model folder .* --force does not delete it"):
        export_model(
            f"models:/{NAME}@champion",
            output_dir,
            tracking_uri=f"sqlite:///{tmp_path}/x.db",
            force=True,
        )
    assert (output_dir / "notes.txt").read_text() == "keep me"


def test_export_force_replaces_previous_export(tracking_uri, trained_model_dir, tmp_path):
    register(tracking_uri, trained_model_dir)
    output_dir = tmp_path / "export"
    export_model(f"models:/{NAME}@champion", output_dir, tracking_uri=tracking_uri)
    (output_dir / "stale.txt").write_text("from an older export")

    export_model(f"models:/{NAME}@champion", output_dir, tracking_uri=tracking_uri, force=True)

    assert (output_dir / "config.json").is_file()
    assert not (output_dir / "stale.txt").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_export_cli_runs_uri(tracking_uri, trained_model_dir, expected_scores, tmp_path):
    _, trial_run_id = register(tracking_uri, trained_model_dir)
    output_dir = tmp_path / "cli-export"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracking.export",
            "--model-uri",
            f"runs:/{trial_run_id}/model",
            "--output-dir",
            str(output_dir),
            "--tracking-uri",
            tracking_uri,
        ],
        cwd=REPO_ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output_dir.resolve())
    assert hypercl.load(output_dir).similarity(
        SENTENCES1, SENTENCES2, CONDITIONS
    ) == pytest.approx(expected_scores, abs=1e-6)
    card = (output_dir / "README.md").read_text()
    assert f"Exported from | `runs:/{trial_run_id}/model`" in card
    assert "| val_spearman | 71.2345 |" in card
    assert "| epoch | 3.0000 |" in card


def test_export_cli_reports_errors(tmp_path, capsys):
    output_dir = tmp_path / "taken"
    output_dir.mkdir()
    (output_dir / "file").write_text("x")

    with pytest.raises(SystemExit) as exit_info:
        main(["--model-uri", "models:/m@champion", "--output-dir", str(output_dir)])

    assert exit_info.value.code == 2
    assert f"--output-dir {output_dir} is not empty; pass --force" in capsys.readouterr().err


def test_export_cli_reports_unknown_model(tracking_uri, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "--model-uri",
                "models:/no-such-model@champion",
                "--output-dir",
                str(tmp_path / "out"),
                "--tracking-uri",
                tracking_uri,
            ]
        )

    assert "no-such-model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("uri", "parts"),
    [
        (
            "models:/hypercl-csts-minilm@champion",
            {"name": "hypercl-csts-minilm", "alias": "champion"},
        ),
        ("models:/hypercl-csts-minilm/3", {"name": "hypercl-csts-minilm", "version": "3"}),
        ("runs:/0a1b/model", {"run_id": "0a1b", "path": "model"}),
    ],
)
def test_parse_model_uri_forms(uri, parts):
    assert parse_model_uri(uri) == parts


@pytest.mark.parametrize(
    "uri", ["models:/x", "models:/x/latest", "s3://bucket/model", "runs:/abc"]
)
def test_parse_model_uri_rejects_other_forms(uri):
    with pytest.raises(ValueError, match="invalid --model-uri .* use one of models:/NAME@ALIAS"):
        parse_model_uri(uri)


def test_export_rejects_model_without_hypercl_folder(tracking_uri, tmp_path):
    _, run_id = start_study_run(tracking_uri, "study", "s", {}, {})
    client = MlflowClient(tracking_uri)
    client.log_text(
        run_id, "flavors:\n  python_function:\n    loader_module: x\n", "other/MLmodel"
    )

    with pytest.raises(ValueError, match=rf"runs:/{run_id}/other has no artifact 'model'"):
        export_model(f"runs:/{run_id}/other", tmp_path / "out", tracking_uri=tracking_uri)
    with pytest.raises(ValueError, match=rf"no MLflow model found at runs:/{run_id}/missing"):
        export_model(f"runs:/{run_id}/missing", tmp_path / "out", tracking_uri=tracking_uri)
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
