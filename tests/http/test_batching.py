"""Micro-batching groups concurrent requests into one onnxruntime call."""

import asyncio
import base64

import httpx
import numpy as np
import pytest

from serving.http import ModelRegistry, create_app
from serving.http.batching import MicroBatcher
from tests.http.conftest import CPU, as_float, png_bytes, random_pixels
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic


class CountingSession:
    """Wraps an onnxruntime session and records the batch size of each run."""

    def __init__(self, session):
        self.session = session
        self.batch_sizes = []

    def run(self, output_names, feeds):
        self.batch_sizes.append(len(next(iter(feeds.values()))))
        return self.session.run(output_names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


async def embed_concurrently(registry, pixels):
    app = create_app(registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        requests = [
            client.post("/models/embedder/embed", json={"images": [base64.b64encode(png_bytes(image)).decode()]})
            for image in pixels
        ]
        return await asyncio.gather(*requests)


@pytest.mark.parametrize(("requests", "max_batch", "expected_batches"), [(8, 8, [8]), (7, 3, [3, 3, 1])])
def test_concurrent_embeds_share_session_runs(model_dir, requests, max_batch, expected_batches):
    registry = ModelRegistry.load([model_dir / "embedder.onnx"], max_batch=max_batch, max_wait_ms=1000, providers=CPU)
    counting = CountingSession(registry.get("embedder").onnx.session)
    registry.get("embedder").onnx.session = counting
    pixels = random_pixels(11, requests)

    try:
        responses = asyncio.run(embed_concurrently(registry, pixels))
    finally:
        registry.close()

    assert [response.status_code for response in responses] == [200] * requests
    assert counting.batch_sizes == expected_batches
    golden = tiny_models.embed_numpy(as_float(pixels))
    for response, expected in zip(responses, golden):
        np.testing.assert_allclose(response.json()["embeddings"][0], expected, atol=1e-5)


def test_failing_request_does_not_fail_its_group():
    def negate_or_reject(batch):
        if (batch < 0).any():
            raise ValueError("negative rows")
        return -batch

    async def submit_all():
        batcher = MicroBatcher("test", negate_or_reject, max_batch=4, max_wait_s=1.0)
        rows = [np.full((1, 2), value, dtype=np.float32) for value in (1.0, -1.0, 2.0, 3.0)]
        results = await asyncio.gather(*(batcher.submit(row) for row in rows), return_exceptions=True)
        await batcher.close()
        return results, batcher.calls

    results, calls = asyncio.run(submit_all())

    assert isinstance(results[1], ValueError)
    np.testing.assert_array_equal(results[0], [[-1.0, -1.0]])
    np.testing.assert_array_equal(results[3], [[-3.0, -3.0]])
    # One grouped call that failed, then one call per request.
    assert calls == 5


def test_group_closes_after_max_wait():
    async def submit_one():
        batcher = MicroBatcher("test", lambda batch: batch * 2, max_batch=64, max_wait_s=0.05)
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await batcher.submit(np.ones((2, 3), dtype=np.float32))
        elapsed = loop.time() - start
        await batcher.close()
        return result, elapsed, batcher.calls

    result, elapsed, calls = asyncio.run(submit_one())

    np.testing.assert_array_equal(result, np.full((2, 3), 2.0))
    assert calls == 1
    assert 0.04 <= elapsed < 1.0
