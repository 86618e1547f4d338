"""A tiny search set-up: random BERT, synthetic C-STS, a YAML space, and a runner of tune/run.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthetic import write_synthetic_csts
from tests.tiny_model import write_tiny_bert

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tune" / "run.py"

SPACE = """\
name: tiny
description: tiny random BERT on synthetic C-STS
task: csts
model: {model}
hidden_size: 32
fixed: {{encoding: tri_encoder, head: hypernet, objective: triplet_cl_mse, pooler: avg,
        batch_size: 8, eval_batch_size: 8, epochs: 3, max_seq_length: 32}}
params:
  lr: {{distribution: loguniform, low: 1.0e-4, high: 1.0e-2}}
  temperature: {{distribution: uniform, low: 1.0, high: 2.0}}
  scaler: {{distribution: choice, values: [4, 8]}}
points_to_evaluate:
  - {{lr: 1.0e-3, temperature: 1.5, scaler: 4}}
"""


def tool_env(tmp_path: Path) -> dict[str, str]:
    """Environment for child processes: no telemetry, no hub, a private data cache."""
    env = dict(os.environ)
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="disabled",
        MLFLOW_DISABLE_TELEMETRY="true",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        HYPERCL_CACHE=str(tmp_path / "cache"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-study")
    model = write_tiny_bert(root / "tiny-bert")
    data = write_synthetic_csts(root / "data", {"train": 16, "validation": 8, "test": 4})
    space = root / "tiny.yaml"
    space.write_text(SPACE.format(model=model))
    return {"model": model, "data": data, "space": space}


def run_tune(
    args: list[str], cwd: Path, timeout: float = 400, **kwargs
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=cwd,
        env=tool_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
