"""Start `zoo serve` as a subprocess on 127.0.0.1 and wait until it is ready."""

import contextlib
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO_ROOT

START_TIMEOUT_S = 90


def free_port():
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(models, arguments=(), log_path=None):
    """Run `zoo serve MODELS... ARGUMENTS` on a free port; yield (process, base_url).

    The server is stopped (SIGKILL when SIGTERM is not enough) on exit,
    unless the test already killed it.
    """
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from zoo.cli import main; main()",
        "serve",
        *[str(model) for model in models],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--cpu",
        *arguments,
    ]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base_url, log_path)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log_path:
            log.close()


def _wait_ready(process, base_url, log_path):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace") if log_path else "(no log)"
            raise RuntimeError(f"zoo serve exited with code {process.returncode} before it was ready:\n{output}")
        try:
            if httpx.get(f"{base_url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"zoo serve was not ready at {base_url} after {START_TIMEOUT_S} s.")
