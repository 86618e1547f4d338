"""Fixtures of the tracking tests: a tiny C-STS model folder, a SQLite store and server helpers.

MLflow runs for real here: a SQLite store in ``tmp_path``, and for the server and serving tests
real ``mlflow server`` and ``mlflow models serve`` processes bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before any test imports MLflow or transformers: no telemetry, no hub downloads.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

VENV_BIN = Path(sys.executable).parent
SENTENCES1 = ["the man plays the guitar", "a dog runs in the park", "the cat eats food"]
SENTENCES2 = ["a woman plays a ball", "the cat runs in the city", "a dog eats big food"]
CONDITIONS = ["the action", "the animal", "the food"]


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """Return a C-STS model folder around a tiny random BERT, with random head weights.

    A freshly initialised head gives every row a similarity close to 1; random head weights
    make the scores of different rows differ, so comparisons between loaders can fail.
    """
    import torch

    from hypercl.checkpoint import save_model
    from hypercl.models.encoder import load_encoder
    from hypercl.tasks import build_model
    from hypercl.training.config import TrainConfig
    from tests.tiny_model import write_tiny_bert

    root = tmp_path_factory.mktemp("tracking-model")
    bert_dir = write_tiny_bert(root / "tiny-bert")
    encoder, tokenizer = load_encoder(str(bert_dir), "cls")
    config = TrainConfig(task="csts", model=str(bert_dir), max_seq_length=32, dropout=0.0)
    model = build_model(config, encoder)

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not name.startswith("encoder."):
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return save_model(model, tokenizer, config, root / "model")


@pytest.fixture(scope="session")
def expected_scores(trained_model_dir) -> list[float]:
    """Return ``hypercl.load`` scores of the three example rows, computed once."""
    import hypercl

    return hypercl.load(trained_model_dir).similarity(SENTENCES1, SENTENCES2, CONDITIONS)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """Return a SQLite store with MLflow's tables created once (about 5 s of migrations)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path, empty_store) -> str:
    """Return the URI of a fresh SQLite store in ``tmp_path``, copied from ``empty_store``."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, path)
    return f"sqlite:///{path}"


def example_frame():
    import pandas as pd

    return pd.DataFrame(
        {"sentence1": SENTENCES1, "sentence2": SENTENCES2, "condition": CONDITIONS}
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env(**extra: str) -> dict[str, str]:
    """Return the environment of MLflow subprocesses: the venv bin first on PATH, no telemetry."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra)
    return env


def mlflow_command() -> list[str]:
    executable = VENV_BIN / "mlflow"
    return [str(executable)] if executable.is_file() else [sys.executable, "-m", "mlflow"]


def start_process(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``command`` in its own process group in the log's folder, with output to the log."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed by stop_process
    process = subprocess.Popen(
        command,
        env=env,
        cwd=log_path.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log_file = log  # type: ignore[attr-defined]
    return process


def stop_process(process: subprocess.Popen) -> None:
    """Terminate the process group of ``process``; kill it if it has not exited after 15 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    finally:
        process.log_file.close()  # type: ignore[attr-defined]


def wait_until_ready(
    url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60.0
) -> None:
    """Poll ``url`` until it returns HTTP 200; fail with the log tail on exit or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} process exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after {timeout:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_bytes()[-size:].decode(errors="replace")


@pytest.fixture
def tracking_server(tmp_path) -> Iterator[str]:
    """Run ``mlflow server`` on a free 127.0.0.1 port with a SQLite store; yield its URI."""
    port = free_port()
    log_path = tmp_path / "server.log"
    command = mlflow_command() + [
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
        "--workers",
        "1",
    ]
    env = process_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    process = start_process(command, env, log_path)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/health", process, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
