"""A real two-node Ray cluster on loopback: ``tune/run.py --address`` spreads trials over both.

Both nodes run on this machine inside a network namespace that has only a loopback
interface, so every Ray socket stays on 127.0.0.1 (outside one, Ray replaces
``--node-ip-address 127.0.0.1`` with the machine's own interface address).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.tune.conftest import RUN, tool_env

VENV_BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="needs root and iproute2 to create a loopback-only network namespace",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_namespace(namespace: str, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


def start_node(namespace: str, arguments: list[str], env: dict, log: Path) -> subprocess.Popen:
    """``ray start --block`` in the namespace; killing its process group stops the node."""
    command = [
        str(VENV_BIN / "ray"),
        "start",
        "--block",
        "--num-cpus",
        "1",
        "--memory",
        str(3 * 1024**3),
        "--object-store-memory",
        str(200 * 1024**2),
        "--node-ip-address",
        "127.0.0.1",
        "--disable-usage-stats",
        *arguments,
    ]
    return subprocess.Popen(
        in_namespace(namespace, command),
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for_nodes(namespace: str, address: str, env: dict, count: int, timeout: float) -> None:
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(node['Alive'] for node in ray.nodes()))"
    )
    deadline = time.monotonic() + timeout
    alive = "0"
    while time.monotonic() < deadline:
        result = subprocess.run(
            in_namespace(namespace, [sys.executable, "-c", probe, address]),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        alive = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "0"
        if alive == str(count):
            return
        time.sleep(1)
    raise AssertionError(f"{alive} of {count} Ray nodes came up at {address}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture
def namespace():
    name = f"hypercl-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=False)


def test_two_node_cluster_runs_trials_on_both_nodes(tmp_path, tiny_setup, namespace):
    env = tool_env(tmp_path)
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp_dir = Path(f"/tmp/ray-{namespace}")
    head = start_node(
        namespace,
        [
            "--head",
            "--port",
            str(port),
            "--include-dashboard",
            "false",
            "--temp-dir",
            str(temp_dir),
        ],
        env,
        tmp_path / "head.log",
    )
    worker = None
    try:
        wait_for_nodes(namespace, address, env, 1, timeout=90)
        worker = start_node(namespace, ["--address", address], env, tmp_path / "worker.log")
        wait_for_nodes(namespace, address, env, 2, timeout=90)

        command = [
            sys.executable,
            str(RUN),
            "--space",
            str(tiny_setup["space"]),
            "--data-dir",
            str(tiny_setup["data"]),
            "--address",
            address,
            "--num-samples",
            "2",
            "--max-concurrent",
            "2",
            "--cpus-per-trial",
            "1",
            "--grace-period",
            "3",
            "--name",
            "two-nodes",
            "--no-register",
        ]
        result = subprocess.run(
            in_namespace(namespace, command),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        summary = json.loads((tmp_path / "ray_results" / "two-nodes" / "summary.json").read_text())
        assert summary["num_trials"] == 2
        assert summary["trials"]["completed"] == 2
        assert len(summary["nodes"]) == 2
    finally:
        if worker is not None:
            stop(worker)
        stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)
