"""Every acknowledged enrolment survives a SIGKILL of the server."""

import base64
import concurrent.futures
import signal
import threading

import httpx
import pytest

from tests.http.conftest import png_bytes, random_pixels
from tests.http.server_process import running_server

pytestmark = pytest.mark.backend_agnostic

CLIENTS = 6
PEOPLE = 120
KILL_AFTER = 25


def person_pixels(index):
    return random_pixels(1000 + index)[0]


def test_acknowledged_enrolments_survive_sigkill(model_dir, tmp_path):
    embedder = model_dir / "embedder.onnx"
    gallery = tmp_path / "gallery.sqlite"
    arguments = ["--gallery", str(gallery)]
    acknowledged = []
    lock = threading.Lock()
    enough = threading.Event()

    def enrol(base_url, index):
        image = base64.b64encode(png_bytes(person_pixels(index))).decode("ascii")
        try:
            response = httpx.post(f"{base_url}/models/embedder/gallery", json={"name": f"p{index}", "images": [image]}, timeout=10)
        except httpx.TransportError:
            return
        if response.status_code == 201:
            with lock:
                acknowledged.append(index)
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    # Enrol from several clients and kill the server while requests are in flight.
    with running_server([embedder], arguments, log_path=tmp_path / "first.log") as (process, base_url):
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(enrol, base_url, index) for index in range(PEOPLE)]
            assert enough.wait(timeout=60), "too few enrolments were acknowledged"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            for future in futures:
                future.result()
    assert KILL_AFTER <= len(acknowledged) < PEOPLE, "the kill came after every request"

    # Restart on the same gallery file: every acknowledged person is there.
    with running_server([embedder], arguments, log_path=tmp_path / "second.log") as (_, base_url):
        listed = httpx.get(f"{base_url}/models/embedder/gallery", timeout=10).json()
        people = {person["name"]: person["embeddings"] for person in listed["people"]}
        missing = sorted(set(f"p{index}" for index in acknowledged) - set(people))
        assert not missing, f"acknowledged but lost: {missing}"
        assert set(people.values()) == {1}

        probe = acknowledged[-1]
        image = base64.b64encode(png_bytes(person_pixels(probe))).decode("ascii")
        result = httpx.post(
            f"{base_url}/models/embedder/identify", json={"images": [image], "threshold": 1e-3}, timeout=10
        ).json()["results"][0]
        assert result["name"] == f"p{probe}"
        assert result["distance"] == pytest.approx(0.0, abs=1e-5)
