"""Loading a trained model for inference: ``hypercl.load(path)``.

model = hypercl.load("outputs/run/best")
model.similarity(["A man plays a guitar."], ["A woman plays a violin."], ["The instrument."])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from hypercl.checkpoint import load_model
from hypercl.training.config import TrainConfig


class HyperClModel:
    """A trained C-STS model with batched, gradient-free scoring."""

    def __init__(
        self, model: torch.nn.Module, tokenizer, config: TrainConfig, device: torch.device
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.device = device

    @torch.no_grad()
    def similarity(
        self,
        sentence1: Sequence[str],
        sentence2: Sequence[str],
        condition: Sequence[str],
        batch_size: int = 64,
    ) -> list[float]:
        """Return one conditional similarity score per (sentence1, sentence2, condition) row."""
        from hypercl.data.csts import CstsExample
        from hypercl.data.csts_batching import CstsTokenizedSplit, iter_eval_batches

        self._require_task("csts", "similarity")
        _require_lists(sentence1=sentence1, sentence2=sentence2, condition=condition)
        if not len(sentence1) == len(sentence2) == len(condition):
            raise ValueError(
                f"sentence1, sentence2 and condition must have equal lengths, got "
                f"{len(sentence1)}, {len(sentence2)} and {len(condition)}"
            )
        if len(sentence1) == 0:
            return []
        examples = [
            CstsExample(sentence1=a, sentence2=b, condition=c, label=-1, line=index + 1)
            for index, (a, b, c) in enumerate(zip(sentence1, sentence2, condition, strict=True))
        ]
        split = CstsTokenizedSplit(
            examples, self.tokenizer, self.config.encoding, self.config.max_seq_length
        )
        scores = torch.empty(len(examples))
        for batch in iter_eval_batches(split, batch_size):
            output = self.model(batch.to(self.device))
            scores[batch.row_index.cpu()] = output.scores.float().cpu()
        return scores.tolist()

    @torch.no_grad()
    def encode(
        self,
        sentences: Sequence[str],
        conditions: Sequence[str] | None = None,
        batch_size: int = 64,
    ) -> torch.Tensor:
        """Embed sentences, conditioned by ``conditions`` when given: (n, d) on the CPU.

        Without conditions this is the pooled encoder output h. With them it is the vector that
        ``similarity`` compares by cosine: the head's g(h, c') for a tri-encoder, the encoding
        of the (sentence, condition) pair for a bi-encoder.
        """
        self._require_task("csts", "encode")
        _require_lists(sentences=sentences, conditions=conditions or [])
        if self.config.encoding == "cross_encoder":
            raise ValueError(
                "encode() needs a tri_encoder or bi_encoder model; a cross_encoder scores "
                "sentence pairs jointly, so use similarity() instead"
            )
        if conditions is not None and len(conditions) != len(sentences):
            raise ValueError(
                f"sentences and conditions must have equal lengths, got "
                f"{len(sentences)} and {len(conditions)}"
            )
        if conditions is None:
            return self._encode_plain(list(sentences), batch_size)
        return self._encode_conditioned(list(sentences), list(conditions), batch_size)

    def _encode_plain(self, sentences: list[str], batch_size: int) -> torch.Tensor:
        chunks = [torch.empty(0, self.model.encoder.hidden_size)]
        for start in range(0, len(sentences), batch_size):
            inputs = self.tokenizer(
                sentences[start : start + batch_size], padding=True, truncation=True,
                max_length=self.config.max_seq_length, return_tensors="pt",
            )  # fmt: skip
            inputs = {key: value.to(self.device) for key, value in inputs.items()}
            chunks.append(self.model.encoder(**inputs).float().cpu())  # (b, d)
        return torch.cat(chunks)

    def _encode_conditioned(
        self, sentences: list[str], conditions: list[str], batch_size: int
    ) -> torch.Tensor:
        from hypercl.data.csts import CstsExample
        from hypercl.data.csts_batching import CstsTokenizedSplit, iter_eval_batches

        # A row (s, s, c) yields g(s, c) as its first embedding; batching encodes s only once.
        examples = [
            CstsExample(sentence1=s, sentence2=s, condition=c, label=-1, line=index + 1)
            for index, (s, c) in enumerate(zip(sentences, conditions, strict=True))
        ]
        split = CstsTokenizedSplit(
            examples, self.tokenizer, self.config.encoding, self.config.max_seq_length
        )
        embeddings = torch.empty(len(examples), self.model.encoder.hidden_size)
        for batch in iter_eval_batches(split, batch_size):
            output = self.model(batch.to(self.device))
            embeddings[batch.row_index.cpu()] = output.emb1.float().cpu()
        return embeddings

    def write_test_predictions(
        self, data_dir: str | Path, path: str | Path, password_file: str | None = None
    ) -> Path:
        """Score the C-STS test split in file order and write ``{"0": score, ...}`` as JSON."""
        from hypercl.data.archive import resolve_csts_dir
        from hypercl.data.csts import load_csts

        test = load_csts(resolve_csts_dir(data_dir, password_file), splits=("test",))["test"]
        scores = self.similarity(
            [row.sentence1 for row in test],
            [row.sentence2 for row in test],
            [row.condition for row in test],
        )
        path = Path(path)
        path.write_text(json.dumps({str(index): score for index, score in enumerate(scores)}))
        return path

    def _require_task(self, task: str, method: str) -> None:
        if self.config.task != task:
            raise ValueError(
                f"{method}() is for --task {task} models; this model was trained for "
                f"--task {self.config.task}"
            )


def _require_lists(**arguments: Sequence[str]) -> None:
    for name, value in arguments.items():
        if isinstance(value, str):
            raise ValueError(
                f"{name} must be a list of strings, got the string {value[:40]!r}; "
                f"wrap a single text in a list: [{value[:20]!r}]"
            )


def load(path: str | Path, device: str | torch.device = "cpu"):
    """Load a model folder written by training or by ``python -m tracking.export``.

    Returns a ``HyperClModel`` for C-STS and a ``KgcModel`` (``predict_tails``) for KGC.
    """
    device = torch.device(device)
    model, tokenizer, config = load_model(path, device)
    if config.task == "kgc":
        from hypercl.inference_kgc import KgcModel

        return KgcModel(model, tokenizer, config, device, path)
    return HyperClModel(model, tokenizer, config, device)
