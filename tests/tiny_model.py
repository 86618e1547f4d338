"""A tiny random BERT and WordPiece tokenizer, written into a folder that ``load_encoder`` reads.

Tests build it in ``tmp_path`` instead of downloading a model::

    from tests.tiny_model import write_tiny_bert

    model_dir = write_tiny_bert(tmp_path / "tiny-bert")
    encoder, tokenizer = load_encoder(str(model_dir), "cls")
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the", "a", "an", "of", "and", "is", "in", "on", "with", "to", "man", "woman", "dog",
    "cat", "plays", "runs", "eats", "red", "blue", "big", "small", "color", "animal",
    "action", "number", "place", "food", "person", "guitar", "ball", "park", "city",
]  # fmt: skip


def tiny_vocab() -> list[str]:
    """Return the vocabulary: special tokens, a few whole words, then characters.

    Single characters and their ``##`` continuations let WordPiece spell any lower-case
    ASCII text without ``[UNK]``, so sequence lengths in tests follow the text.
    """
    characters = list(string.ascii_lowercase + string.digits + string.punctuation)
    continuations = [f"##{character}" for character in string.ascii_lowercase + string.digits]
    return SPECIAL_TOKENS + WORDS + characters + continuations


def write_tiny_bert(
    path: str | Path,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Write a random BERT and its tokenizer into ``path`` with ``save_pretrained``.

    Returns ``path``. The weights depend only on ``seed``, and the global random state is left
    untouched.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n")
    # Loading from the folder reads vocab.txt. The transformers 5 constructor takes ``vocab``
    # and silently ignores a ``vocab_file`` keyword, which would leave every token [UNK].
    tokenizer = BertTokenizerFast.from_pretrained(
        path, do_lower_case=True, model_max_length=max_position_embeddings
    )
    tokenizer.save_pretrained(path)

    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.save_pretrained(path, safe_serialization=True)
    return path
