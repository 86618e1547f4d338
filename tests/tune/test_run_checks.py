"""tune/run.py rejects bad input before Ray starts a trial, with messages that name the fix."""

from tests.tune.conftest import run_tune


def test_run_list_spaces_prints_registered_spaces(tmp_path):
    result = run_tune(["--list-spaces"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("simcse_base", "simcse_base_hyper64", "simcse_large", "simcse_large_hyper85",
                 "diffcse_base", "diffcse_base_hyper64", "minilm", "wn18rr_minilm"):
        assert name in result.stdout
    assert "loguniform" in result.stdout


def test_run_unknown_space_lists_registered(tmp_path, tiny_setup):
    result = run_tune(["--space", "simcse_huge", "--data-dir", str(tiny_setup["data"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "simcse_huge" in result.stderr
    assert "simcse_base" in result.stderr
    assert not (tmp_path / "ray_results").exists()


def test_run_rejects_bad_yaml_space_before_trials(tmp_path, tiny_setup):
    space = tmp_path / "bad.yaml"
    space.write_text(tiny_setup["space"].read_text().replace("low: 1.0e-4", "low: 0.0"))
    result = run_tune(["--space", str(space), "--data-dir", str(tiny_setup["data"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "params.lr.low" in result.stderr
    assert str(space) in result.stderr
    assert not (tmp_path / "ray_results").exists()
    assert not (tmp_path / "mlflow.db").exists()


def test_run_scaler_larger_than_backbone_rejected(tmp_path, tiny_setup):
    space = tmp_path / "wide.yaml"
    text = tiny_setup["space"].read_text().replace("values: [4, 8]", "values: [4, 64]")
    space.write_text(text.replace("hidden_size: 32\n", ""))
    result = run_tune(["--space", str(space), "--data-dir", str(tiny_setup["data"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "scaler" in result.stderr
    assert "64" in result.stderr
    assert "32" in result.stderr


def test_run_missing_backbone_fails_fast(tmp_path, tiny_setup):
    result = run_tune(
        ["--space", "simcse_base", "--data-dir", str(tiny_setup["data"])], cwd=tmp_path, timeout=120
    )
    assert result.returncode == 2
    assert "princeton-nlp/sup-simcse-roberta-base" in result.stderr
    assert "not found locally" in result.stderr
    assert "--model" in result.stderr
    assert not (tmp_path / "ray_results").exists()


def test_run_missing_data_dir_names_the_option(tmp_path, tiny_setup):
    result = run_tune(["--space", str(tiny_setup["space"])], cwd=tmp_path)
    assert result.returncode == 2
    assert "--data-dir is required" in result.stderr


def test_run_rejects_grace_period_above_max_t(tmp_path, tiny_setup):
    result = run_tune(
        ["--space", str(tiny_setup["space"]), "--data-dir", str(tiny_setup["data"]), "--grace-period", "5"],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--grace-period must be between 1 and the number of evaluations (3), got 5" in result.stderr
    assert not (tmp_path / "ray_results").exists()
    assert not (tmp_path / "mlflow.db").exists()
