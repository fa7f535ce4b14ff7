"""`serving.hub.pull`, `resolve` and `load` against an HTTP server on 127.0.0.1."""

import pathlib

import numpy as np
import pytest

from serving import Embedder, InvalidInputError, hub
from tests.hub.conftest import ARTIFACT, FILE_PATH, INT8_PATH, write_manifest

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]


def _final(cache_dir):
    return cache_dir / "artifacts" / ARTIFACT / "model.onnx"


def _part(cache_dir):
    return cache_dir / "artifacts" / ARTIFACT / "model.onnx.part"


def _pull(manifest, cache_dir, **kwargs):
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5.0)
    return hub.pull(ARTIFACT, manifest=str(manifest), cache_dir=cache_dir, **kwargs)


def test_pull_then_offline_reuse(http_manifest, artifact_root, server, cache_dir, capsys):
    path = _pull(http_manifest, cache_dir)

    assert path == _final(cache_dir)
    assert path.read_bytes() == (artifact_root / FILE_PATH).read_bytes()
    assert not _part(cache_dir).exists()
    assert server.requests == [(f"/{FILE_PATH}", None)]
    assert "100.0%" in capsys.readouterr().err

    server.shutdown()
    server.server_close()
    again = _pull(http_manifest, cache_dir, retries=0)

    assert again == path
    assert len(server.requests) == 1


def test_pull_short_file_rejected(http_manifest, server, cache_dir):
    server.mode = "short"

    with pytest.raises(hub.ChecksumMismatchError, match="bytes but the manifest lists"):
        _pull(http_manifest, cache_dir)

    assert not _final(cache_dir).exists()
    assert not _part(cache_dir).exists()


def test_pull_wrong_checksum_rejected(http_manifest, server, cache_dir):
    server.mode = "corrupt"

    with pytest.raises(hub.ChecksumMismatchError, match="SHA-256"):
        _pull(http_manifest, cache_dir)

    assert not _final(cache_dir).exists()
    assert not _part(cache_dir).exists()


def test_pull_cut_transfer_fails_after_retries(http_manifest, server, cache_dir):
    server.mode = "cut"

    with pytest.raises(hub.DownloadError, match="after 3 attempts"):
        _pull(http_manifest, cache_dir, retries=2)

    assert not _final(cache_dir).exists()
    # Each attempt resumed where the last one stopped, 100 bytes at a time.
    assert _part(cache_dir).stat().st_size == 300
    assert [header for _, header in server.requests] == [None, "bytes=100-", "bytes=200-"]


def test_pull_resumes_after_dropped_connection(http_manifest, artifact_root, server, cache_dir):
    server.mode = "drop_once"
    data = (artifact_root / FILE_PATH).read_bytes()

    path = _pull(http_manifest, cache_dir)

    assert path.read_bytes() == data
    assert len(server.requests) == 2
    assert server.requests[0][1] is None
    assert server.requests[1][1] == f"bytes={len(data) // 2}-"
    assert not _part(cache_dir).exists()


def test_pull_resumes_from_existing_part(http_manifest, artifact_root, server, cache_dir):
    data = (artifact_root / FILE_PATH).read_bytes()
    _part(cache_dir).parent.mkdir(parents=True)
    _part(cache_dir).write_bytes(data[:500])

    path = _pull(http_manifest, cache_dir)

    assert path.read_bytes() == data
    assert server.requests == [(f"/{FILE_PATH}", "bytes=500-")]


def test_pull_replaces_corrupt_cached_file(http_manifest, artifact_root, server, cache_dir):
    _final(cache_dir).parent.mkdir(parents=True)
    _final(cache_dir).write_bytes(b"not an onnx file")

    path = _pull(http_manifest, cache_dir)

    assert path.read_bytes() == (artifact_root / FILE_PATH).read_bytes()
    assert len(server.requests) == 1


def test_pull_unreachable_server_fails(tmp_path, artifact_root, server, cache_dir):
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, server.url)
    server.shutdown()
    server.server_close()

    with pytest.raises(hub.DownloadError, match="failed after 2 attempts"):
        _pull(manifest, cache_dir, retries=1)

    assert not _final(cache_dir).exists()


def test_pull_missing_file_is_not_retried(http_manifest, artifact_root, server, cache_dir):
    (artifact_root / FILE_PATH).unlink()

    with pytest.raises(hub.DownloadError, match="HTTP 404"):
        _pull(http_manifest, cache_dir)

    assert len(server.requests) == 1


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "a\\b", ".hidden", "", "/etc/passwd", "x..y"])
def test_pull_rejects_unsafe_names(file_manifest, cache_dir, name):
    with pytest.raises(InvalidInputError, match="artifact name"):
        _pull_named(file_manifest, cache_dir, name)

    assert not cache_dir.exists()


def _pull_named(manifest, cache_dir, name):
    return hub.pull(name, manifest=str(manifest), cache_dir=cache_dir)


def test_pull_unknown_name_lists_known(file_manifest, cache_dir):
    with pytest.raises(hub.UnknownArtifactError, match=f"Known names: {ARTIFACT}"):
        _pull_named(file_manifest, cache_dir, "face-embedder-missing")


def test_pull_from_mirror_folder(tmp_path, artifact_root, cache_dir):
    # The manifest's own url is a folder that does not exist, so only the mirror can work.
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, str(tmp_path / "gone"))

    with pytest.raises(hub.DownloadError, match="not found"):
        _pull(manifest, cache_dir, retries=0)
    path = _pull(manifest, cache_dir, mirror=str(artifact_root))

    assert path.read_bytes() == (artifact_root / FILE_PATH).read_bytes()


def test_pull_mirror_file_not_folder(tmp_path, artifact_root, cache_dir):
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, str(tmp_path / "gone"))

    # A mirror that is one model file, not the folder of artifact folders.
    with pytest.raises(hub.DownloadError, match="the folder that contains the artifact folders"):
        _pull(manifest, cache_dir, retries=0, mirror=str(artifact_root / FILE_PATH))


def test_pull_from_file_url_mirror(tmp_path, artifact_root, cache_dir):
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, "https://example.invalid/unused/")

    path = _pull(manifest, cache_dir, mirror=artifact_root.as_uri())

    assert path.read_bytes() == (artifact_root / FILE_PATH).read_bytes()


def test_manifest_url_relative_to_manifest(tmp_path, artifact_root, cache_dir):
    manifest = write_manifest(artifact_root / "manifest.json", artifact_root, "")

    artifact = hub.read_manifest(manifest).get(ARTIFACT)
    path = _pull(manifest, cache_dir)

    assert artifact.base_url == str(artifact_root.resolve())
    assert path.is_file()


def test_manifest_rejects_unsafe_file_path(tmp_path, artifact_root):
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, "")
    manifest.write_text(manifest.read_text().replace(FILE_PATH, "../outside.onnx"))

    with pytest.raises(hub.ManifestError, match="without '..'"):
        hub.read_manifest(manifest)


def test_manifest_rejects_other_schema(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"schema_version": 2, "artifacts": []}')

    with pytest.raises(hub.ManifestError, match="schema_version 2"):
        hub.read_manifest(manifest)


def test_resolve_keeps_paths(file_manifest, cache_dir):
    assert hub.resolve("models/x.onnx", manifest=str(file_manifest)) == pathlib.Path("models/x.onnx")
    with pytest.raises(hub.UnknownArtifactError, match="not an existing file"):
        hub.resolve("no-such-model", manifest=str(file_manifest), cache_dir=cache_dir)


def test_load_returns_embedder(file_manifest, artifact_root, cache_dir):
    embedder = hub.load(ARTIFACT, manifest=str(file_manifest), cache_dir=cache_dir, progress=False, providers=CPU)
    by_path = hub.load(artifact_root / FILE_PATH, providers=CPU)

    images = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    assert isinstance(embedder, Embedder)
    assert isinstance(by_path, Embedder)
    assert embedder.path == _final(cache_dir)
    np.testing.assert_allclose(embedder.embed(images), by_path.embed(images), atol=1e-6)


def test_pull_fetches_float32_only(int8_manifest, server, cache_dir):
    path = _pull(int8_manifest, cache_dir)

    assert path == _final(cache_dir)
    assert server.requests == [(f"/{FILE_PATH}", None)]
    assert not (cache_dir / "artifacts" / ARTIFACT / "model.int8.onnx").exists()


def test_pull_quantized_variant(int8_manifest, artifact_root, server, cache_dir):
    path = _pull(int8_manifest, cache_dir, quantize="int8")

    assert path == cache_dir / "artifacts" / ARTIFACT / "model.int8.onnx"
    assert path.read_bytes() == (artifact_root / INT8_PATH).read_bytes()
    assert server.requests == [(f"/{INT8_PATH}", None)]
    assert not _final(cache_dir).exists()


def test_pull_unknown_variant_names_available(int8_manifest, server, cache_dir):
    with pytest.raises(hub.UnknownVariantError, match="Available variants: float32, int8") as error:
        _pull(int8_manifest, cache_dir, quantize="float16")

    assert "has no float16 files" in str(error.value)
    assert server.requests == []
    assert not cache_dir.exists()


def test_manifest_lists_variants(int8_manifest):
    artifact = hub.read_manifest(int8_manifest).get(ARTIFACT)

    assert artifact.variants == (None, "int8")
    assert [file.quantize for file in artifact.files] == [None, "int8"]
    assert artifact.size == artifact.files[0].size
    assert artifact.model_file_of("float32") == artifact.model_file


def test_manifest_rejects_float32_quantize(tmp_path, artifact_root):
    manifest = write_manifest(tmp_path / "manifest.json", artifact_root, "")
    manifest.write_text(manifest.read_text().replace('"quantize": null', '"quantize": "float32"'))

    with pytest.raises(hub.ManifestError, match="Expected null for a float32 file"):
        hub.read_manifest(manifest)


def test_resolve_rejects_quantize_with_path(file_manifest):
    with pytest.raises(InvalidInputError, match="is a path"):
        hub.resolve("models/x.onnx", manifest=str(file_manifest), quantize="int8")


def test_load_quantized_variant(int8_manifest, cache_dir):
    embedder = hub.load(
        ARTIFACT, manifest=str(int8_manifest), cache_dir=cache_dir, progress=False, providers=CPU, quantize="int8"
    )

    assert isinstance(embedder, Embedder)
    assert embedder.path == cache_dir / "artifacts" / ARTIFACT / "model.int8.onnx"
