"""The registered search spaces: Hyper-CL on C-STS and on WN18RR, for GPUs and for CPUs.

The C-STS GPU spaces follow the recipe of Hyper-CL (Yoo, Cha, Kim and Kim, ACL 2024):
tri-encoder, hypernetwork head, triplet_cl_mse, cls pooling, batch 32 rows, 5 epochs. Each
space starts from the best (lr, weight_decay, temperature) that the Hyper-CL authors report for
its backbone and rank, found by their grid lr {1e-5, 2e-5, 3e-5} x weight_decay {0, 0.1} x
temperature {1.0, 1.5, 1.7, 1.9}. The ranges below contain that grid.
The scaler sets the hypernetwork's rank K = floor(d / scaler); scaler 1 is full rank.
"""

from __future__ import annotations

from search_spaces.registry import register_space
from search_spaces.space import Distribution, SearchSpace, choice, loguniform, uniform

SIMCSE_BASE = "princeton-nlp/sup-simcse-roberta-base"
SIMCSE_LARGE = "princeton-nlp/sup-simcse-roberta-large"
DIFFCSE_BASE = "voidism/diffcse-roberta-base-sts"
BERT_BASE = "bert-base-uncased"
MINILM = "minilm"

HIDDEN_SIZES = {
    SIMCSE_BASE: 768,
    SIMCSE_LARGE: 1024,
    DIFFCSE_BASE: 768,
    BERT_BASE: 768,
    MINILM: 384,
}

# Scalers for d = 384 (all-MiniLM-L6-v2): K = 96, 64, 48, 32. Full rank (scaler 1) is left out
# because its hypernetwork has d^3 + d^2 = 56.8 M parameters, 2.5 times the 22.7 M encoder.
MINILM_SCALERS = (4, 6, 8, 12)


def _csts_paper_params() -> dict[str, Distribution]:
    return {
        "lr": loguniform(1e-5, 5e-5),
        "weight_decay": choice(0.0, 0.1),
        "temperature": uniform(1.0, 2.0),
    }


def _csts_paper_space(
    name: str, model: str, scaler: int, best: tuple[float, float, float], description: str
) -> SearchSpace:
    """Build a GPU C-STS space; ``best`` is the reported best (lr, weight_decay, temperature)."""
    lr, weight_decay, temperature = best
    return SearchSpace(
        name=name,
        description=description,
        task="csts",
        model=model,
        hidden_size=HIDDEN_SIZES[model],
        fixed={
            "encoding": "tri_encoder",
            "head": "hypernet",
            "scaler": scaler,
            "objective": "triplet_cl_mse",
            "pooler": "cls",
            "batch_size": 32,
            "epochs": 5,
            "warmup_ratio": 0.1,
            # NOTE: the Hyper-CL recipe states no maximum length; 128 is TrainConfig's default.
            "max_seq_length": 128,
        },
        params=_csts_paper_params(),
        points_to_evaluate=({"lr": lr, "weight_decay": weight_decay, "temperature": temperature},),
        metric="val_spearman",
        mode="max",
    )


@register_space("simcse_base")
def simcse_base() -> SearchSpace:
    return _csts_paper_space(
        "simcse_base",
        SIMCSE_BASE,
        scaler=1,
        best=(3e-5, 0.1, 1.9),
        description="SimCSE-RoBERTa base, full-rank hyper-cl (reported Spearman 38.75)",
    )


@register_space("simcse_base_hyper64")
def simcse_base_hyper64() -> SearchSpace:
    return _csts_paper_space(
        "simcse_base_hyper64",
        SIMCSE_BASE,
        scaler=12,
        best=(2e-5, 0.1, 1.7),
        description="SimCSE-RoBERTa base, hyper64-cl, K=64 (reported Spearman 38.36)",
    )


@register_space("simcse_large")
def simcse_large() -> SearchSpace:
    return _csts_paper_space(
        "simcse_large",
        SIMCSE_LARGE,
        scaler=1,
        best=(2e-5, 0.1, 1.5),
        description="SimCSE-RoBERTa large, full-rank hyper-cl (reported Spearman 39.60)",
    )


@register_space("simcse_large_hyper85")
def simcse_large_hyper85() -> SearchSpace:
    return _csts_paper_space(
        "simcse_large_hyper85",
        SIMCSE_LARGE,
        scaler=12,
        best=(1e-5, 0.1, 1.9),
        description="SimCSE-RoBERTa large, hyper85-cl, K=85 (reported Spearman 38.12)",
    )


@register_space("diffcse_base")
def diffcse_base() -> SearchSpace:
    return _csts_paper_space(
        "diffcse_base",
        DIFFCSE_BASE,
        scaler=1,
        best=(3e-5, 0.1, 1.5),
        description="DiffCSE-RoBERTa base, full-rank hyper-cl (reported Spearman 33.82)",
    )


@register_space("diffcse_base_hyper64")
def diffcse_base_hyper64() -> SearchSpace:
    return _csts_paper_space(
        "diffcse_base_hyper64",
        DIFFCSE_BASE,
        scaler=12,
        best=(1e-5, 0.0, 1.5),
        description="DiffCSE-RoBERTa base, hyper64-cl, K=64 (reported Spearman 33.10)",
    )


@register_space("minilm")
def minilm() -> SearchSpace:
    return SearchSpace(
        name="minilm",
        description="embedded all-MiniLM-L6-v2 on CPU, hyperK-cl with the rank searched",
        task="csts",
        model=MINILM,
        hidden_size=HIDDEN_SIZES[MINILM],
        fixed={
            "encoding": "tri_encoder",
            "head": "hypernet",
            "objective": "triplet_cl_mse",
            # The sentence-transformers config of all-MiniLM-L6-v2 pools by mean over tokens.
            "pooler": "avg",
            "batch_size": 32,
            "epochs": 2,
            "warmup_ratio": 0.1,
            "max_seq_length": 64,
        },
        params={
            # 2 epochs instead of 5 give the newly initialised hypernetwork fewer than half the
            # updates of the GPU recipe, so the range reaches 1e-4, ten times the GPU minimum.
            "lr": loguniform(1e-5, 1e-4),
            "weight_decay": choice(0.0, 0.1),
            "temperature": uniform(1.0, 2.0),
            "scaler": choice(*MINILM_SCALERS),
        },
        # The SimCSE-base hyper64-cl best; scaler 8 gives K = 48 at d = 384.
        points_to_evaluate=({"lr": 2e-5, "weight_decay": 0.1, "temperature": 1.7, "scaler": 8},),
        metric="val_spearman",
        mode="max",
    )


@register_space("wn18rr_bert_base")
def wn18rr_bert_base() -> SearchSpace:
    # SimKGC recipe on WN18RR (Wang et al., ACL 2022) with the Hyper-CL tri-encoder in place
    # of SimKGC's two encoders: lr 5e-5, weight decay 1e-4, batch 1024, 50 epochs, gradient
    # clipping at 10, 50 tokens, additive margin 0.02, initial temperature 0.05.
    return SearchSpace(
        name="wn18rr_bert_base",
        description="BERT base on WN18RR, SimKGC + full-rank hyper-cl (reported MRR .616)",
        task="kgc",
        model=BERT_BASE,
        hidden_size=HIDDEN_SIZES[BERT_BASE],
        fixed={
            "encoding": "tri_encoder",
            "head": "hypernet",
            "scaler": 1,
            "pooler": "avg",
            "batch_size": 1024,
            "epochs": 50,
            "max_seq_length": 50,
            "max_grad_norm": 10.0,
            "margin": 0.02,
            "init_temperature": 0.05,
            "self_negative": True,
        },
        params={
            "lr": loguniform(1e-5, 1e-4),
            "weight_decay": loguniform(1e-5, 1e-3),
        },
        points_to_evaluate=({"lr": 5e-5, "weight_decay": 1e-4},),
        metric="val_mrr",
        mode="max",
    )


@register_space("wn18rr_minilm")
def wn18rr_minilm() -> SearchSpace:
    return SearchSpace(
        name="wn18rr_minilm",
        description="embedded all-MiniLM-L6-v2 on WN18RR on CPU, hyperK-cl with the rank searched",
        task="kgc",
        model=MINILM,
        hidden_size=HIDDEN_SIZES[MINILM],
        fixed={
            "encoding": "tri_encoder",
            "head": "hypernet",
            "pooler": "avg",
            "batch_size": 64,
            # NOTE: one epoch is 173,670 queries (forward and inverse triples). At about 30
            # MiniLM sentences/s forward+backward on 2 CPU threads that is an estimated 3 hours,
            # so pair this space with max_train_rows for a quick search.
            "epochs": 2,
            "max_seq_length": 50,
            "max_grad_norm": 10.0,
            "margin": 0.02,
            "init_temperature": 0.05,
            "self_negative": True,
            # Validation ranks a seeded subset of 500 triples against all 40,943 entities.
            "eval_max_triples": 500,
        },
        params={
            "lr": loguniform(1e-5, 1e-4),
            "weight_decay": loguniform(1e-5, 1e-3),
            "scaler": choice(*MINILM_SCALERS),
        },
        points_to_evaluate=({"lr": 5e-5, "weight_decay": 1e-4, "scaler": 8},),
        metric="val_mrr",
        mode="max",
    )
