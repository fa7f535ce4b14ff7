"""Fuzz the committed OpenAPI schema against a real server: no request gets a 5xx."""

import collections

import pytest

from serving.http.openapi import OPENAPI_PATH
from tests.http.conftest import model_paths
from tests.http.server_process import running_server
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES_PER_OPERATION = 12

# Path names that reach a model of the task each endpoint needs.
MODEL_FOR_ENDPOINT = {
    "embed": "embedder",
    "verify": "embedder",
    "identify": "embedder",
    "gallery": "embedder",
    "sample": "decoder",
    "mix": "stylegan",
    "interpolate": "generator",
    "decode": "decoder",
    "reconstruct": "encoder",
    "translate": "translator",
}


def _served_name(path):
    parts = path.strip("/").split("/")
    if len(parts) >= 3:
        return MODEL_FOR_ENDPOINT.get(parts[2], "embedder")
    return "embedder"


def test_schema_fuzzing_gets_no_5xx(model_dir, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16
    arguments = ["--gallery", str(tmp_path / "gallery.sqlite"), "--max-wait-ms", "1"]
    # A StyleGAN generator with its mapping and synthesis parts beside it, served as "stylegan" for /mix.
    style_dir = tmp_path / "style"
    tiny_models.build_style_parts(style_dir).rename(style_dir / "stylegan.onnx")
    failures = []
    statuses = collections.Counter()

    models = [*model_paths(model_dir), style_dir / "stylegan.onnx"]
    with running_server(models, arguments, log_path=tmp_path / "server.log") as (_, base_url):
        for operation in operations:
            strategies = [operation.as_strategy()]
            if "{name}" in operation.path:
                # Random names only reach the 404 branch, so half the cases use a served model.
                strategies.append(operation.as_strategy(path_parameters={"name": _served_name(operation.path)}))

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=st.one_of(strategies))
            def call(case):
                response = case.call(base_url=base_url, timeout=10)
                statuses[response.status_code // 100] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

            call()

    assert not failures, "\n".join(failures[:10])
    # Both accepted and rejected requests were generated, so the fuzzing reached the handlers.
    assert statuses[2] > 0, statuses
    assert statuses[4] > 0, statuses
