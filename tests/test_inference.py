"""hypercl.load: similarity and encode of a saved model agree with each other and with training."""

import pytest
import torch
import torch.nn.functional as F

import hypercl
from hypercl.checkpoint import save_model
from hypercl.inference import HyperClModel
from hypercl.models.encoder import load_encoder
from hypercl.tasks import build_model
from hypercl.training.config import TrainConfig
from tests.tiny_model import write_tiny_bert

SENTENCES_1 = ["the man plays a red guitar", "a dog runs in the park", "the cat eats"]
SENTENCES_2 = ["a woman plays the blue guitar", "the cat runs in the city", "a dog eats food"]
CONDITIONS = ["the color", "the animal", "the action"]


@pytest.fixture(scope="module", params=["tri_encoder", "bi_encoder", "cross_encoder"])
def saved_model(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    encoder, tokenizer = load_encoder(str(write_tiny_bert(root / "tiny")), "avg")
    objective = "mse" if request.param == "cross_encoder" else "triplet_cl_mse"
    config = TrainConfig(
        model=str(root / "tiny"),
        encoding=request.param,
        head="hypernet",
        scaler=4,
        pooler="avg",
        objective=objective,
        max_seq_length=32,
    )
    torch.manual_seed(0)
    model = build_model(config, encoder)
    for parameter in model.parameters():  # random weights everywhere, so rows score apart
        parameter.data.normal_(0, 0.2)
    save_model(model, tokenizer, config, root / "model")
    return root / "model", model.eval()


def test_load_similarity_matches_saved_model(saved_model):
    folder, original = saved_model
    loaded = hypercl.load(folder)
    scores = loaded.similarity(SENTENCES_1, SENTENCES_2, CONDITIONS, batch_size=2)
    assert len(scores) == 3
    assert len(set(round(score, 6) for score in scores)) == 3
    reference = HyperClModel(original, loaded.tokenizer, loaded.config, torch.device("cpu"))
    assert scores == pytest.approx(
        reference.similarity(SENTENCES_1, SENTENCES_2, CONDITIONS), abs=1e-6
    )


def test_load_encode_cosine_equals_similarity(saved_model):
    folder, _ = saved_model
    loaded = hypercl.load(folder)
    if loaded.config.encoding == "cross_encoder":
        with pytest.raises(ValueError, match="a cross_encoder scores sentence pairs jointly"):
            loaded.encode(SENTENCES_1, CONDITIONS)
        return
    first = loaded.encode(SENTENCES_1, CONDITIONS, batch_size=2)
    second = loaded.encode(SENTENCES_2, CONDITIONS, batch_size=2)
    assert first.shape == (3, 32)
    cosine = F.cosine_similarity(first, second, dim=-1).tolist()
    assert cosine == pytest.approx(
        loaded.similarity(SENTENCES_1, SENTENCES_2, CONDITIONS), abs=1e-5
    )
    plain = loaded.encode(SENTENCES_1)
    assert plain.shape == (3, 32)
    assert not torch.allclose(plain, first)


def test_load_similarity_rejects_unequal_lengths(saved_model):
    loaded = hypercl.load(saved_model[0])
    with pytest.raises(ValueError, match="equal lengths, got 3, 2 and 3"):
        loaded.similarity(SENTENCES_1, SENTENCES_2[:2], CONDITIONS)
    assert loaded.similarity([], [], []) == []


def test_load_missing_folder_names_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a hypercl model folder"):
        hypercl.load(tmp_path)


def test_load_rejects_plain_string_input(saved_model):
    loaded = hypercl.load(saved_model[0])
    with pytest.raises(ValueError, match="sentence1 must be a list of strings"):
        loaded.similarity("a b", "c d", "e f")


def test_load_run_folder_points_to_best(tmp_path):
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="is a training output folder.*load .*best"):
        hypercl.load(tmp_path)
