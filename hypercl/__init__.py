"""Hyper-CL: hypernetwork-conditioned sentence embeddings for C-STS and knowledge-graph completion.

The core library (data, models, objectives, trainer, loading). It imports torch and
transformers only; Ray Tune and MLflow plug in from the ``tune`` and ``tracking`` packages.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load(path, device="cpu"):
    """Load a trained model folder; see ``hypercl.inference.load``."""
    from hypercl.inference import load as _load

    return _load(path, device=device)


__all__ = ["__version__", "load"]
