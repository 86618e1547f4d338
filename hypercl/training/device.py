"""Device and mixed-precision choice: bf16/fp16 autocast on CUDA, fp32 on CPU."""

from __future__ import annotations

import contextlib
import logging

import torch

from hypercl.training.config import PRECISIONS

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """Map ``auto`` to CUDA when available, else CPU; check an explicit CUDA request."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"--device {device} requested but CUDA is not available; use --device cpu or auto"
        )
    return resolved


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Return the autocast dtype; ``auto`` is bf16 where CUDA supports it, fp16 on older GPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {PRECISIONS}, got {precision!r}")
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            logger.warning("precision %s ignored on %s: training in fp32", precision, device)
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
