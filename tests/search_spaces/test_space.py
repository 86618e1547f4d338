"""Tests of SearchSpace validation, its dict and text forms, and the Ray Tune param_space."""

from __future__ import annotations

import dataclasses
import json

import pytest
from ray.tune.search.optuna import OptunaSearch
from ray.tune.search.sample import Categorical, Domain, Float, Integer, LogUniform, Uniform

from search_spaces import (
    Distribution,
    SearchSpace,
    choice,
    int_uniform,
    loguniform,
    to_tune_param_space,
    tune_points_to_evaluate,
    uniform,
    validate_space,
)


def make_space(**changes) -> SearchSpace:
    """Return a valid small C-STS space, with ``changes`` applied to its fields."""
    space = SearchSpace(
        name="tiny",
        description="test space",
        task="csts",
        model="minilm",
        hidden_size=384,
        fixed={"encoding": "tri_encoder", "head": "hypernet", "batch_size": 32, "epochs": 2},
        params={
            "lr": loguniform(1e-5, 1e-4),
            "weight_decay": choice(0.0, 0.1),
            "temperature": uniform(1.0, 2.0),
            "scaler": choice(4, 8),
        },
        points_to_evaluate=({"lr": 2e-5, "weight_decay": 0.1, "temperature": 1.7, "scaler": 8},),
        metric="val_spearman",
        mode="max",
    )
    return dataclasses.replace(space, **changes)


def with_param(name: str, dist: Distribution, **changes) -> SearchSpace:
    space = make_space(**changes)
    return dataclasses.replace(space, params={**space.params, name: dist})


def test_validate_space_accepts_valid_space():
    validate_space(make_space())


def test_distribution_contains_bounds_inclusive():
    dist = loguniform(1e-5, 1e-4)

    assert dist.contains(1e-5)
    assert dist.contains(1e-4)
    assert not dist.contains(1.01e-4)
    assert not dist.contains("1e-5")


def test_distribution_contains_int_uniform_needs_int():
    dist = int_uniform(2, 5)

    assert dist.contains(2)
    assert dist.contains(5)
    assert not dist.contains(3.5)
    assert not dist.contains(True)


def test_distribution_contains_choice_bool_differs_from_int():
    assert choice(True, False).contains(True)
    assert not choice(1, 0).contains(True)
    assert choice(0.0, 0.1).contains(0.1)


def test_space_default_metric_follows_task():
    assert make_space(metric="").metric == "val_spearman"
    assert make_space(task="kgc", metric="").metric == "val_mrr"


@pytest.mark.parametrize(
    ("name", "dist", "message"),
    [
        (
            "lr",
            loguniform(0.0, 1e-4),
            r"params\.lr\.low=0\.0: a loguniform distribution needs low > 0; use a positive",
        ),
        (
            "lr",
            loguniform(-1e-5, 1e-4),
            r"params\.lr\.low=-1e-05: a loguniform distribution needs low > 0",
        ),
        (
            "temperature",
            uniform(2.0, 1.0),
            r"params\.temperature\.low=2\.0: low must be below high=1\.0; swap the bounds",
        ),
        (
            "temperature",
            uniform(1.5, 1.5),
            r"params\.temperature\.low=1\.5: low must be below high=1\.5",
        ),
        (
            "weight_decay",
            Distribution("choice", choices=()),
            r"params\.weight_decay\.values=\[\]: empty choice; list at least one value",
        ),
        (
            "lr",
            Distribution("normal", low=1e-5, high=1e-4),
            r"params\.lr\.distribution='normal': unknown distribution; "
            r"use one of loguniform, uniform, choice, int_uniform",
        ),
        (
            "lr",
            Distribution("uniform", low=None, high=1e-4),
            r"params\.lr\.low=None: missing or non-numeric bound of a uniform distribution",
        ),
        (
            "scaler",
            uniform(1.0, 8.0),
            r"params\.scaler\.distribution='uniform': TrainConfig\.scaler takes int; "
            r"use int_uniform or choice",
        ),
        (
            "temperature",
            int_uniform(1, 2),
            r"params\.temperature\.distribution='int_uniform': TrainConfig\.temperature takes "
            r"float; use uniform, loguniform or choice",
        ),
        (
            "pooler",
            uniform(0.0, 1.0),
            r"params\.pooler\.distribution='uniform': TrainConfig\.pooler takes str; use choice",
        ),
        (
            "scaler",
            int_uniform(1.0, 8),
            r"params\.scaler\.low=1\.0: .* give low as an integer",
        ),
        (
            "weight_decay",
            choice(0.0, "0.1"),
            r"params\.weight_decay\.values\[1\]='0\.1': TrainConfig\.weight_decay takes float, "
            r"not str",
        ),
        (
            "weight_decay",
            choice(0.0, 0.1, 0.0),
            r"params\.weight_decay\.values\[2\]=0\.0: duplicate value; list each value once",
        ),
        (
            "pooler",
            choice("cls", "first"),
            r"params\.pooler\.values\[1\]='first': unknown pooler; use one of cls, avg",
        ),
        (
            "lr",
            Distribution("choice", low=1e-5, choices=(1e-5,)),
            r"params\.lr\.low=1e-05: a choice takes values, not low/high",
        ),
        (
            "lr",
            Distribution("uniform", low=1e-5, high=1e-4, choices=(1e-5,)),
            r"params\.lr\.values=\[1e-05\]: a uniform distribution takes low and high, "
            r"not values",
        ),
    ],
)
def test_validate_space_rejects_bad_distribution(name, dist, message):
    space = with_param(name, dist, points_to_evaluate=())

    with pytest.raises(ValueError, match=message):
        validate_space(space)


def test_validate_space_rejects_unknown_param_listing_valid_names():
    space = with_param("learning_rate", loguniform(1e-5, 1e-4), points_to_evaluate=())

    with pytest.raises(
        ValueError, match=r"params\.learning_rate='learning_rate': unknown"
    ) as info:
        validate_space(space)

    message = str(info.value)
    assert "use TrainConfig field names:" in message
    assert "lr" in message.split(":")[-1].split(", ")
    assert "weight_decay" in message
    assert "extra" not in message.split(":")[-1].split(", ")


def test_validate_space_rejects_model_under_params():
    space = with_param("model", choice("minilm", "bert-base-uncased"), points_to_evaluate=())

    with pytest.raises(ValueError, match=r"params\.model='model': model is set by the space's "):
        validate_space(space)


@pytest.mark.parametrize(
    ("fixed", "message"),
    [
        (
            {"batch_size": "32"},
            r"fixed\.batch_size='32': TrainConfig\.batch_size takes int, not str; "
            r"give a value of type int",
        ),
        ({"epochs": True}, r"fixed\.epochs=True: TrainConfig\.epochs takes int, not bool"),
        ({"epochs": 2.5}, r"fixed\.epochs=2\.5: TrainConfig\.epochs takes int, not float"),
        (
            {"max_train_rows": "all"},
            r"fixed\.max_train_rows='all': TrainConfig\.max_train_rows takes int or None",
        ),
        (
            {"encoding": "tri"},
            r"fixed\.encoding='tri': unknown encoding; "
            r"use one of tri_encoder, bi_encoder, cross_encoder",
        ),
        ({"head": "mlp"}, r"fixed\.head='mlp': unknown head; use one of hypernet, concat"),
        ({"objective": "cl"}, r"fixed\.objective='cl': unknown objective; use one of mse"),
        ({"task": "kgc"}, r"fixed\.task='task': task is set by the space's top-level key"),
        ({"lr": 2e-5}, r"fixed\.lr=2e-05: lr is also searched under params\.lr; remove it"),
        ({"learning_rate": 2e-5}, r"fixed\.learning_rate='learning_rate': unknown training"),
    ],
)
def test_validate_space_rejects_bad_fixed(fixed, message):
    space = make_space()
    space = dataclasses.replace(space, fixed={**space.fixed, **fixed})

    with pytest.raises(ValueError, match=message):
        validate_space(space)


def test_validate_space_accepts_optional_float():
    space = make_space()
    space = dataclasses.replace(
        space, fixed={**space.fixed, "max_grad_norm": None, "dropout": 0, "max_train_rows": None}
    )

    validate_space(space)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"metric": "val_mrr"},
            r"metric='val_mrr': not a metric of task csts; use metric val_spearman "
            r"\(task csts reports val_spearman, val_pearson\)",
        ),
        (
            {"task": "kgc", "metric": "val_spearman"},
            r"metric='val_spearman': not a metric of task kgc; use metric val_mrr",
        ),
        (
            {"mode": "min"},
            r"mode='min': metric val_spearman improves upward, .*; use mode max",
        ),
        ({"mode": "maximize"}, r"mode='maximize': unknown mode; use one of max, min"),
        ({"task": "sts"}, r"task='sts': unknown task; use one of csts, kgc"),
        ({"model": ""}, r"model='': missing backbone"),
        ({"name": "my space"}, r"name='my space': invalid space name"),
        ({"hidden_size": 0}, r"hidden_size=0: hidden size must be a positive integer"),
    ],
)
def test_validate_space_rejects_bad_header(changes, message):
    with pytest.raises(ValueError, match=message):
        validate_space(make_space(**changes))


def test_validate_space_rejects_scaler_above_hidden_size():
    space = with_param("scaler", choice(4, 500), points_to_evaluate=())

    with pytest.raises(
        ValueError,
        match=r"params\.scaler\.values\[1\]=500: the scaler is larger than the hidden size "
        r"d=384 \(hidden_size of space 'tiny'\), so K = floor\(d / scaler\) would be 0; "
        r"use a scaler between 1 and 384",
    ):
        validate_space(space)


def test_validate_space_rejects_scaler_below_one():
    space = make_space(params={"lr": loguniform(1e-5, 1e-4)}, points_to_evaluate=())
    space = dataclasses.replace(space, fixed={**space.fixed, "scaler": 0})

    with pytest.raises(ValueError, match=r"fixed\.scaler=0: the scaler must be >= 1"):
        validate_space(space)


def test_validate_space_checks_int_uniform_scaler_upper_bound():
    space = with_param("scaler", int_uniform(1, 400), points_to_evaluate=())

    with pytest.raises(ValueError, match=r"params\.scaler\.high=400: the scaler is larger"):
        validate_space(space)


def test_validate_space_hidden_size_argument_overrides_space():
    space = make_space()  # scalers 4 and 8

    validate_space(space, hidden_size=8)
    with pytest.raises(
        ValueError,
        match=r"params\.scaler\.values\[1\]=8: .* d=6 \(the hidden size of the backbone "
        r"being loaded\)",
    ):
        validate_space(space, hidden_size=6)


def test_validate_space_without_hidden_size_skips_upper_check():
    space = with_param("scaler", choice(4, 5000), points_to_evaluate=(), hidden_size=None)

    validate_space(space)


def test_validate_space_rejects_scaler_without_hypernet_head():
    space = make_space()
    space = dataclasses.replace(space, fixed={**space.fixed, "head": "concat"})

    with pytest.raises(
        ValueError,
        match=r"params\.scaler='choice \{4, 8\}': the scaler sets the rank of the hypernet "
        r"head, but the head is 'concat'",
    ):
        validate_space(space)


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (
            {"lr": 1e-3, "weight_decay": 0.1, "temperature": 1.7, "scaler": 8},
            r"points_to_evaluate\[0\]\.lr=0\.001: outside params\.lr = "
            r"loguniform \[1e-05, 0\.0001\]; use a value inside the range",
        ),
        (
            {"lr": 2e-5, "weight_decay": 0.05, "temperature": 1.7, "scaler": 8},
            r"points_to_evaluate\[0\]\.weight_decay=0\.05: outside params\.weight_decay = "
            r"choice \{0\.0, 0\.1\}",
        ),
        (
            {"lr": 2e-5, "weight_decay": 0.1, "temperature": 1.7},
            r"points_to_evaluate\[0\]=\{.*\}: missing a value for scaler; "
            r"give every searched parameter a value",
        ),
        (
            {"lr": 2e-5, "weight_decay": 0.1, "temperature": 1.7, "scaler": 8, "epochs": 3},
            r"points_to_evaluate\[0\]\.epochs=3: not a searched parameter; set only keys of "
            r"params \(lr, weight_decay, temperature, scaler\)",
        ),
        (
            {"lr": "2e-5", "weight_decay": 0.1, "temperature": 1.7, "scaler": 8},
            r"points_to_evaluate\[0\]\.lr='2e-5': TrainConfig\.lr takes float, not str",
        ),
    ],
)
def test_validate_space_rejects_bad_point(point, message):
    with pytest.raises(ValueError, match=message):
        validate_space(make_space(points_to_evaluate=(point,)))


def test_space_copies_caller_dicts():
    fixed = {"batch_size": 32}
    space = make_space(fixed=fixed)
    fixed["batch_size"] = 64

    assert space.fixed["batch_size"] == 32


def test_space_to_dict_is_json_ready():
    space = make_space()
    data = json.loads(json.dumps(space.to_dict()))

    assert data["name"] == "tiny"
    assert data["params"]["lr"] == {"distribution": "loguniform", "low": 1e-5, "high": 1e-4}
    assert data["params"]["scaler"] == {"distribution": "choice", "values": [4, 8]}
    assert data["fixed"]["batch_size"] == 32
    assert data["points_to_evaluate"] == [
        {"lr": 2e-5, "weight_decay": 0.1, "temperature": 1.7, "scaler": 8}
    ]
    assert data["metric"] == "val_spearman"
    assert data["hidden_size"] == 384


def test_space_describe_lists_fixed_and_ranges():
    text = make_space().describe()

    assert text.startswith("search space tiny: test space")
    assert "task csts, model minilm, hidden size 384" in text
    assert "batch_size=32" in text
    assert "lr: loguniform [1e-05, 0.0001]" in text
    assert "temperature: uniform [1.0, 2.0]" in text
    assert "scaler: choice {4, 8} (K = 96/48 at d=384)" in text
    assert "points_to_evaluate[0]: lr=2e-05" in text


def test_to_tune_param_space_builds_domains():
    space = with_param("epochs", int_uniform(1, 3))
    space = dataclasses.replace(
        space, fixed={k: v for k, v in space.fixed.items() if k != "epochs"}
    )
    param_space = to_tune_param_space(space)

    lr = param_space["lr"]
    assert isinstance(lr, Domain)
    assert isinstance(lr, Float)
    assert isinstance(lr.get_sampler(), LogUniform)
    assert (lr.lower, lr.upper) == (1e-5, 1e-4)

    temperature = param_space["temperature"]
    assert isinstance(temperature, Float)
    assert isinstance(temperature.get_sampler(), Uniform)
    assert (temperature.lower, temperature.upper) == (1.0, 2.0)

    scaler = param_space["scaler"]
    assert isinstance(scaler, Categorical)
    assert scaler.categories == [4, 8]

    # Ray's randint excludes its upper bound, so int_uniform(1, 3) becomes randint(1, 4).
    epochs = param_space["epochs"]
    assert isinstance(epochs, Integer)
    assert (epochs.lower, epochs.upper) == (1, 4)


def test_to_tune_param_space_keeps_constants():
    param_space = to_tune_param_space(make_space())

    assert param_space["task"] == "csts"
    assert param_space["model"] == "minilm"
    assert param_space["batch_size"] == 32
    assert param_space["encoding"] == "tri_encoder"
    assert not isinstance(param_space["batch_size"], Domain)
    assert set(param_space) == {
        "task", "model", "encoding", "head", "batch_size", "epochs",
        "lr", "weight_decay", "temperature", "scaler",
    }  # fmt: skip


def test_to_tune_param_space_converts_for_optuna():
    space = with_param("epochs", int_uniform(1, 3), points_to_evaluate=())
    space = dataclasses.replace(
        space, fixed={k: v for k, v in space.fixed.items() if k != "epochs"}
    )

    distributions = OptunaSearch.convert_search_space(to_tune_param_space(space))

    assert set(distributions) == {"lr", "weight_decay", "temperature", "scaler", "epochs"}
    assert distributions["lr"].log
    assert (distributions["lr"].low, distributions["lr"].high) == (1e-5, 1e-4)
    assert (distributions["epochs"].low, distributions["epochs"].high) == (1, 3)
    assert distributions["scaler"].choices == (4, 8)


def test_optuna_search_suggests_point_first():
    space = make_space()
    searcher = OptunaSearch(
        metric=space.metric, mode=space.mode, points_to_evaluate=tune_points_to_evaluate(space)
    )
    assert searcher.set_search_properties(None, None, to_tune_param_space(space))

    config = searcher.suggest("trial_1")

    assert config["lr"] == 2e-5
    assert config["weight_decay"] == 0.1
    assert config["temperature"] == 1.7
    assert config["scaler"] == 8


def test_tune_points_to_evaluate_returns_list_copies():
    space = make_space()
    points = tune_points_to_evaluate(space)
    points[0]["lr"] = 1.0

    assert isinstance(points, list)
    assert space.points_to_evaluate[0]["lr"] == 2e-5
