"""A disk cache of token ids, so trials on one node tokenise each data set once.

Entries live under ``cache_dir()/tokens`` (``$HYPERCL_CACHE`` or ``~/.cache/hypercl``), one
safetensors file per (tokenizer, maximum length, texts) combination, named by the SHA-256 of
all three. Set ``HYPERCL_TOKEN_CACHE=0`` to tokenise without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hypercl.cache import cache_dir

logger = logging.getLogger(__name__)

Tokenized = tuple[list[list[int]], list[list[int]] | None]


def cache_enabled() -> bool:
    return os.environ.get("HYPERCL_TOKEN_CACHE", "1").lower() not in ("0", "false", "no")


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash everything that determines the tokenizer's output into a hex digest."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # The backend's truncation and padding settings change with every call, so they are
        # left out; max_length is part of the cache key instead.
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        digest.update(json.dumps(state, sort_keys=True).encode())
    else:
        digest.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(repr(tokenizer.special_tokens_map).encode())
    return digest.hexdigest()


def cache_key(
    tokenizer: Any, texts: Sequence[str], max_length: int, text_pairs: Sequence[str] | None
) -> str:
    digest = hashlib.sha256(tokenizer_fingerprint(tokenizer).encode())
    digest.update(f"max_length={max_length};pairs={text_pairs is not None}".encode())
    for index, text in enumerate(texts):
        digest.update(text.encode())
        digest.update(b"\x1f")
        if text_pairs is not None:
            digest.update(text_pairs[index].encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def _pack(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    flat = torch.tensor([token for s in sequences for token in s], dtype=torch.long)
    return flat, lengths


def _unpack(flat: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    return [chunk.tolist() for chunk in torch.split(flat, lengths.tolist())]


def load_or_tokenize(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    text_pairs: Sequence[str] | None,
    tokenize: Callable[[], Tokenized],
) -> Tokenized:
    """Return ``tokenize()``'s (input_ids, token_type_ids), from the cache when it has them."""
    if not cache_enabled():
        return tokenize()
    path = (
        cache_dir()
        / "tokens"
        / f"{cache_key(tokenizer, texts, max_length, text_pairs)}.safetensors"
    )
    if path.is_file():
        try:
            return _read(path)
        except (SafetensorError, OSError, KeyError, RuntimeError) as error:
            logger.warning("ignoring unreadable token cache %s: %s", path, error)
    input_ids, token_type_ids = tokenize()
    _write(path, input_ids, token_type_ids)
    return input_ids, token_type_ids


def _read(path: Path) -> Tokenized:
    tensors = load_file(str(path))
    input_ids = _unpack(tensors["input_ids"], tensors["lengths"])
    token_type_ids = None
    if "token_type_ids" in tensors:
        token_type_ids = _unpack(tensors["token_type_ids"], tensors["lengths"])
    logger.debug("read %d tokenised texts from %s", len(input_ids), path)
    return input_ids, token_type_ids


def _write(path: Path, input_ids: list[list[int]], token_type_ids: list[list[int]] | None) -> None:
    """Write atomically: concurrent trials either see the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flat, lengths = _pack(input_ids)
    tensors = {"input_ids": flat, "lengths": lengths}
    if token_type_ids is not None:
        tensors["token_type_ids"] = _pack(token_type_ids)[0]
    handle, staging = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, staging)
        os.replace(staging, path)
    except OSError as error:
        logger.warning("could not write token cache %s: %s", path, error)
        Path(staging).unlink(missing_ok=True)
