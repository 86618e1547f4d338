"""Tests of YAML search spaces: the example file, round trips and error messages with the path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from search_spaces import (
    EXAMPLE_SPACE,
    get_space,
    load_space_yaml,
    save_space_yaml,
    space_from_dict,
)

VALID_YAML = """\
name: tiny_yaml
description: written by a test
task: csts
model: minilm
hidden_size: 384
fixed:
  batch_size: 16
  dropout: 0
  max_grad_norm: 1e1
params:
  lr: {distribution: loguniform, low: 1e-5, high: 1e-4}
  scaler: {distribution: choice, values: [4, 8]}
points_to_evaluate:
  - {lr: 2e-5, scaler: 8}
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_space_yaml_example_file():
    space = load_space_yaml(EXAMPLE_SPACE)

    assert EXAMPLE_SPACE.name == "minilm_small.yaml"
    assert space.name == "minilm_small"
    assert space.task == "csts"
    assert space.model == "minilm"
    assert space.params["lr"].low == 1e-5
    assert isinstance(space.params["lr"].low, float)
    assert space.params["scaler"].choices == (6, 8, 12)
    assert space.points_to_evaluate[0] == {"lr": 2e-5, "temperature": 1.7, "scaler": 8}


def test_load_space_yaml_example_round_trip(tmp_path):
    space = load_space_yaml(EXAMPLE_SPACE)
    path = tmp_path / "copy.yaml"

    save_space_yaml(space, path)

    assert load_space_yaml(path) == space
    assert space_from_dict(space.to_dict()) == space


def test_load_space_yaml_registered_round_trip(tmp_path):
    for name in ("simcse_base_hyper64", "wn18rr_minilm"):
        space = get_space(name)
        path = tmp_path / f"{name}.yaml"

        save_space_yaml(space, path)

        assert load_space_yaml(path) == space


def test_load_space_yaml_converts_exponent_strings(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-5 without a dot as a string; the loader converts it.
    assert yaml.safe_load("low: 1e-5")["low"] == "1e-5"

    space = load_space_yaml(write(tmp_path, VALID_YAML))

    assert space.params["lr"].low == 1e-5
    assert space.params["lr"].high == 1e-4
    assert space.points_to_evaluate[0]["lr"] == 2e-5
    assert space.fixed["max_grad_norm"] == 10.0
    assert isinstance(space.fixed["dropout"], float)
    assert space.fixed["batch_size"] == 16
    assert isinstance(space.fixed["batch_size"], int)


def test_load_space_yaml_fills_defaults(tmp_path):
    space = load_space_yaml(write(tmp_path, VALID_YAML))

    assert space.metric == "val_spearman"
    assert space.mode == "max"
    assert space.description == "written by a test"


def test_get_space_accepts_yaml_and_yml_paths(tmp_path):
    yaml_path = write(tmp_path, VALID_YAML, "a.yaml")
    yml_path = write(tmp_path, VALID_YAML, "b.yml")

    assert get_space(str(yaml_path)).name == "tiny_yaml"
    assert get_space(yml_path).name == "tiny_yaml"


def test_load_space_yaml_rejects_non_numeric_bound(tmp_path):
    path = write(tmp_path, VALID_YAML.replace("low: 1e-5", "low: small"))

    with pytest.raises(
        ValueError,
        match=re.escape(f"{path}: params.lr.low='small': not a number; write it as a number"),
    ):
        load_space_yaml(path)


def test_load_space_yaml_syntax_error_line(tmp_path):
    path = write(tmp_path, VALID_YAML.replace("  batch_size: 16", "  batch_size: [16"))

    with pytest.raises(ValueError, match=re.escape(f"{path}: invalid YAML at line ")) as info:
        load_space_yaml(path)

    # The bracket opens on line 7; PyYAML detects the error on line 8, where "dropout:" follows.
    message = str(info.value)
    assert f"{path}: invalid YAML at line 8, column 10: expected ',' or ']'" in message
    assert "(while parsing a flow sequence at line 7)" in message
    assert message.endswith("fix the syntax there")


def test_load_space_yaml_tab_indent_names_line(tmp_path):
    path = write(tmp_path, "name: x\ntask: csts\n\tmodel: minilm\n")

    with pytest.raises(ValueError, match=re.escape(f"{path}: invalid YAML at line 3")):
        load_space_yaml(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "task: csts",
            "task: csts\nseed: 1",
            "seed: unknown top-level key; allowed keys are name",
        ),
        ("model: minilm\n", "", "missing top-level key(s) model; add them"),
        (
            "lr: {distribution: loguniform,",
            "lr: {distribution: loguniform, step: 2,",
            "params.lr.step: unknown key; a parameter takes distribution, low, high, values",
        ),
        (
            "lr: {distribution: loguniform,",
            "lr: {",
            "params.lr: missing key 'distribution'",
        ),
        (
            "scaler: {distribution: choice, values: [4, 8]}",
            "scaler: {distribution: choice, values: 4}",
            "params.scaler.values=4: expected a list",
        ),
        (
            "fixed:\n  batch_size: 16\n  dropout: 0\n  max_grad_norm: 1e1\n",
            "fixed: 3\n",
            "fixed=3: expected a mapping of setting names to values",
        ),
        (
            "scaler: {distribution: choice, values: [4, 8]}",
            "scaler: 8",
            "params.scaler=8: expected a mapping such as",
        ),
        (
            "  - {lr: 2e-5, scaler: 8}",
            "  - 8",
            "points_to_evaluate[0]=8: expected a mapping",
        ),
    ],
)
def test_load_space_yaml_rejects_bad_layout(tmp_path, old, new, message):
    path = write(tmp_path, VALID_YAML.replace(old, new))

    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_space_yaml(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "lr: {distribution: loguniform, low: 1e-5",
            "lr: {distribution: loguniform, low: 0",
            "params.lr.low=0.0: a loguniform distribution needs low > 0",
        ),
        (
            "lr: {distribution: loguniform,",
            "lr: {distribution: gaussian,",
            "params.lr.distribution='gaussian': unknown distribution",
        ),
        (
            "  lr: {distribution",
            "  learning_rate: {distribution",
            "params.learning_rate='learning_rate': unknown training setting under params",
        ),
        ("values: [4, 8]", "values: [4, 500]", "params.scaler.values[1]=500: the scaler is"),
        ("values: [4, 8]", "values: []", "params.scaler.values=[]: empty choice"),
        ("task: csts", "task: csts\nmetric: val_mrr", "metric='val_mrr': not a metric of task"),
        ("batch_size: 16", "batch_size: '16'", "fixed.batch_size='16': TrainConfig.batch_size"),
        ("{lr: 2e-5, scaler: 8}", "{lr: 2e-3, scaler: 8}", "points_to_evaluate[0].lr=0.002"),
    ],
)
def test_load_space_yaml_validation_errors_name_file(tmp_path, old, new, message):
    path = write(tmp_path, VALID_YAML.replace(old, new))

    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_space_yaml(path)


def test_load_space_yaml_empty_file(tmp_path):
    path = write(tmp_path, "# nothing yet\n")

    with pytest.raises(ValueError, match=re.escape(f"{path}: expected a mapping with keys name")):
        load_space_yaml(path)


def test_load_space_yaml_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"

    with pytest.raises(ValueError, match=r"search space file '.*absent\.yaml' not found"):
        get_space(str(path))


def test_load_space_yaml_uses_safe_load(tmp_path):
    path = write(tmp_path, VALID_YAML.replace("name: tiny_yaml", "name: !!python/name:os.system"))

    with pytest.raises(ValueError, match=re.escape(f"{path}: invalid YAML at line 1")):
        load_space_yaml(path)
