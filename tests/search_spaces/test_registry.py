"""Tests of the registry and of the registered spaces' contents."""

from __future__ import annotations

import pytest

from search_spaces import (
    SearchSpace,
    choice,
    format_spaces,
    get_space,
    list_spaces,
    register_space,
    registry,
    validate_space,
)

REGISTERED = (
    "simcse_base",
    "simcse_base_hyper64",
    "simcse_large",
    "simcse_large_hyper85",
    "diffcse_base",
    "diffcse_base_hyper64",
    "minilm",
    "wn18rr_bert_base",
    "wn18rr_minilm",
)

# Best (lr, weight_decay, temperature) that Hyper-CL (ACL 2024) reports per backbone and rank.
REPORTED_BEST = {
    "simcse_base": (3e-5, 0.1, 1.9),
    "simcse_base_hyper64": (2e-5, 0.1, 1.7),
    "simcse_large": (2e-5, 0.1, 1.5),
    "simcse_large_hyper85": (1e-5, 0.1, 1.9),
    "diffcse_base": (3e-5, 0.1, 1.5),
    "diffcse_base_hyper64": (1e-5, 0.0, 1.5),
}


@pytest.fixture
def scratch_registry(monkeypatch):
    """Let a test register spaces without leaving them in the global registry."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))


def test_list_spaces_contains_all_names():
    names = list_spaces()

    for name in REGISTERED:
        assert name in names
    assert names == sorted(names)


@pytest.mark.parametrize("name", REGISTERED)
def test_get_space_registered_space_validates(name):
    space = get_space(name)

    assert space.name == name
    validate_space(space)
    validate_space(space, hidden_size=space.hidden_size)


@pytest.mark.parametrize("name", REGISTERED)
def test_get_space_points_inside_ranges(name):
    space = get_space(name)

    assert len(space.points_to_evaluate) >= 1
    for point in space.points_to_evaluate:
        assert set(point) == set(space.params)
        for key, value in point.items():
            assert space.params[key].contains(value), (key, value)


@pytest.mark.parametrize("name", sorted(REPORTED_BEST))
def test_get_space_csts_point_is_reported_best(name):
    space = get_space(name)
    lr, weight_decay, temperature = REPORTED_BEST[name]

    assert space.points_to_evaluate[0] == {
        "lr": lr,
        "weight_decay": weight_decay,
        "temperature": temperature,
    }
    assert space.fixed["batch_size"] == 32
    assert space.fixed["epochs"] == 5
    assert space.fixed["pooler"] == "cls"
    assert space.fixed["objective"] == "triplet_cl_mse"
    assert space.fixed["head"] == "hypernet"
    assert space.fixed["encoding"] == "tri_encoder"


@pytest.mark.parametrize(
    ("name", "model", "hidden_size", "rank"),
    [
        ("simcse_base", "princeton-nlp/sup-simcse-roberta-base", 768, 768),
        ("simcse_base_hyper64", "princeton-nlp/sup-simcse-roberta-base", 768, 64),
        ("simcse_large", "princeton-nlp/sup-simcse-roberta-large", 1024, 1024),
        ("simcse_large_hyper85", "princeton-nlp/sup-simcse-roberta-large", 1024, 85),
        ("diffcse_base", "voidism/diffcse-roberta-base-sts", 768, 768),
        ("diffcse_base_hyper64", "voidism/diffcse-roberta-base-sts", 768, 64),
        ("wn18rr_bert_base", "bert-base-uncased", 768, 768),
    ],
)
def test_get_space_fixed_rank_matches_name(name, model, hidden_size, rank):
    space = get_space(name)

    assert space.model == model
    assert space.hidden_size == hidden_size
    assert hidden_size // space.fixed["scaler"] == rank


def test_get_space_minilm_searches_scaler():
    space = get_space("minilm")

    assert space.model == "minilm"
    assert space.hidden_size == 384
    scalers = space.params["scaler"].choices
    assert [384 // s for s in scalers] == [96, 64, 48, 32]
    assert space.params["lr"].low == 1e-5
    assert space.params["lr"].high == 1e-4
    assert space.fixed["max_seq_length"] == 64
    assert space.points_to_evaluate[0] == {
        "lr": 2e-5,
        "weight_decay": 0.1,
        "temperature": 1.7,
        "scaler": 8,
    }


@pytest.mark.parametrize("name", ["wn18rr_bert_base", "wn18rr_minilm"])
def test_get_space_kgc_uses_mrr(name):
    space = get_space(name)

    assert space.task == "kgc"
    assert space.metric == "val_mrr"
    assert space.mode == "max"
    assert space.fixed["pooler"] == "avg"
    assert space.fixed["max_seq_length"] == 50


def test_get_space_wn18rr_bert_base_follows_simkgc():
    space = get_space("wn18rr_bert_base")

    assert space.fixed["batch_size"] == 1024
    assert space.fixed["epochs"] == 50
    assert space.points_to_evaluate[0] == {"lr": 5e-5, "weight_decay": 1e-4}


def test_get_space_wn18rr_minilm_limits_evaluation():
    space = get_space("wn18rr_minilm")

    assert space.fixed["eval_max_triples"] == 500
    assert space.fixed["batch_size"] == 64
    assert "scaler" in space.params


def test_get_space_csts_uses_spearman():
    for name in REPORTED_BEST:
        space = get_space(name)
        assert space.metric == "val_spearman"
        assert space.mode == "max"


def test_get_space_unknown_name_lists_registered():
    with pytest.raises(
        ValueError, match=r"unknown search space 'simcse'; registered spaces"
    ) as info:
        get_space("simcse")

    message = str(info.value)
    for name in REGISTERED:
        assert name in message
    assert "a path to a YAML file (ending in .yaml or .yml) also works" in message


def test_get_space_returns_fresh_copies():
    first = get_space("minilm")
    first.fixed["batch_size"] = 1

    assert get_space("minilm").fixed["batch_size"] == 32


def test_register_space_rejects_duplicate(scratch_registry):
    with pytest.raises(ValueError, match=r"search space 'minilm' is already registered"):

        @register_space("minilm")
        def again() -> SearchSpace:
            raise AssertionError("never called")


def test_register_space_adds_factory(scratch_registry):
    @register_space("tiny_test")
    def tiny() -> SearchSpace:
        return SearchSpace(
            name="tiny_test",
            description="one parameter",
            task="csts",
            model="minilm",
            params={"temperature": choice(1.5, 1.9)},
        )

    assert "tiny_test" in list_spaces()
    assert get_space("tiny_test").metric == "val_spearman"


def test_get_space_rejects_name_mismatch(scratch_registry):
    @register_space("alias_test")
    def alias() -> SearchSpace:
        return SearchSpace(name="other", description="", task="csts", model="minilm")

    with pytest.raises(
        ValueError, match=r"registered as 'alias_test' builds a space named 'other'"
    ):
        get_space("alias_test")


def test_get_space_validates_factory_output(scratch_registry):
    @register_space("broken_test")
    def broken() -> SearchSpace:
        return SearchSpace(
            name="broken_test",
            description="",
            task="csts",
            model="minilm",
            params={"temperature": choice()},
        )

    with pytest.raises(ValueError, match=r"params\.temperature\.values=\[\]: empty choice"):
        get_space("broken_test")


def test_format_spaces_shows_models_and_ranges():
    text = format_spaces()

    for name in REGISTERED:
        assert f"\n{name}  [" in f"\n{text}"
    assert "simcse_base_hyper64  [csts, val_spearman]  model " in text
    assert "princeton-nlp/sup-simcse-roberta-base (d=768), scaler 12" in text
    assert "lr loguniform [1e-05, 5e-05]" in text
    assert "scaler choice {4, 6, 8, 12}" in text
    assert "wn18rr_bert_base  [kgc, val_mrr]  model bert-base-uncased" in text
