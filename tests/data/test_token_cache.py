"""The on-disk token cache returns exactly what the tokenizer returns, and only for the same input."""

import pytest
from transformers import AutoTokenizer

from hypercl.data import token_cache
from tests.tiny_model import write_tiny_bert


@pytest.fixture
def tokenizer(tmp_path):
    return AutoTokenizer.from_pretrained(write_tiny_bert(tmp_path / "tiny"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HYPERCL_TOKEN_CACHE", raising=False)
    return tmp_path / "cache" / "tokens"


def tokenize_counting(tokenizer, texts, pairs, calls):
    def tokenize():
        calls.append(1)
        encoded = tokenizer(texts, pairs, truncation=True, max_length=8)
        types = encoded.get("token_type_ids")
        return [list(i) for i in encoded["input_ids"]], None if types is None else [
            list(t) for t in types
        ]

    return tokenize


def test_token_cache_second_call_reads_disk(tokenizer, cache):
    texts, pairs, calls = ["the man plays", "a dog runs in the park today"], ["color", "place"], []
    first = token_cache.load_or_tokenize(
        tokenizer, texts, 8, pairs, tokenize_counting(tokenizer, texts, pairs, calls)
    )
    second = token_cache.load_or_tokenize(
        tokenizer, texts, 8, pairs, tokenize_counting(tokenizer, texts, pairs, calls)
    )
    assert len(calls) == 1
    assert second == first
    assert len(first[0][1]) == 8  # truncated to max_length
    assert first[1] is not None
    assert len(list(cache.glob("*.safetensors"))) == 1


def test_token_cache_key_changes_with_input(tokenizer):
    texts = ["the man plays"]
    base = token_cache.cache_key(tokenizer, texts, 8, None)
    assert token_cache.cache_key(tokenizer, texts, 9, None) != base
    assert token_cache.cache_key(tokenizer, ["the man play"], 8, None) != base
    assert token_cache.cache_key(tokenizer, texts, 8, ["color"]) != base
    # the separator keeps ("ab", "c") apart from ("a", "bc")
    assert token_cache.cache_key(tokenizer, ["ab", "c"], 8, None) != token_cache.cache_key(
        tokenizer, ["a", "bc"], 8, None
    )


def test_token_cache_disabled_by_environment(tokenizer, cache, monkeypatch):
    monkeypatch.setenv("HYPERCL_TOKEN_CACHE", "0")
    calls = []
    for _ in range(2):
        token_cache.load_or_tokenize(
            tokenizer, ["a cat"], 8, None, tokenize_counting(tokenizer, ["a cat"], None, calls)
        )
    assert len(calls) == 2
    assert not cache.exists()


def test_token_cache_ignores_corrupt_file(tokenizer, cache, caplog):
    texts, calls = ["the dog eats"], []
    key = token_cache.cache_key(tokenizer, texts, 8, None)
    cache.mkdir(parents=True)
    (cache / f"{key}.safetensors").write_bytes(b"not a safetensors file")
    result = token_cache.load_or_tokenize(
        tokenizer, texts, 8, None, tokenize_counting(tokenizer, texts, None, calls)
    )
    assert len(calls) == 1
    assert result[0] == [tokenizer("the dog eats", truncation=True, max_length=8)["input_ids"]]
    assert "ignoring unreadable token cache" in caplog.text
