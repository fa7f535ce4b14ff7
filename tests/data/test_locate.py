"""Lookup order and downloads, against an HTTP server on 127.0.0.1."""

import io
import types
import zipfile

import numpy as np
import pytest

from recipes.data import load_fashion_mnist, load_olivetti, load_orl, locate
from tests.data.fakes import write_fashion, write_orl
from zoo.errors import DataNotFoundError

pytestmark = pytest.mark.backend_agnostic


def _serve_fashion(server, tmp_path):
    written = write_fashion(tmp_path / "served")
    for path in (tmp_path / "served").iterdir():
        server.files[f"/fashion/{path.name}"] = path.read_bytes()
    return written


def test_lookup_order(isolated_places, monkeypatch, tmp_path):
    for name in ("env", "shared", "system", "home"):
        folder = isolated_places[name] / "fashion-mnist"
        if name == "home":
            folder = isolated_places[name] / "datasets" / "fashion-mnist"
        write_fashion(folder, splits=("test",))
    monkeypatch.setenv("ZOO_DATA_DIR", str(isolated_places["env"]))
    argument = tmp_path / "argument"
    write_fashion(argument, splits=("test",))

    sources = [load_fashion_mnist(argument, split="test").source]
    for name in ("env", "shared", "system"):
        sources.append(load_fashion_mnist(split="test").source)
        if name == "env":
            monkeypatch.delenv("ZOO_DATA_DIR")
        else:
            for path in (isolated_places[name] / "fashion-mnist").iterdir():
                path.unlink()
    sources.append(load_fashion_mnist(split="test").source)

    assert sources == [
        str(argument),
        str(isolated_places["env"] / "fashion-mnist"),
        str(isolated_places["shared"] / "fashion-mnist"),
        str(isolated_places["system"] / "fashion-mnist"),
        str(isolated_places["home"] / "datasets" / "fashion-mnist"),
    ]


def test_default_places_beside_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))

    places = [place.path for place in locate.search_places("att_faces")]

    import recipes
    checkout_parent = locate.pathlib.Path(recipes.__file__).resolve().parents[1].parent
    assert places == [
        tmp_path / "env" / "att_faces",
        checkout_parent / "shared" / "data" / "att_faces",
        locate.pathlib.Path("/usr/share/datasets/att_faces"),
        tmp_path / "home" / "datasets" / "att_faces",
    ]


def test_fashion_download_and_cache(isolated_places, file_server, monkeypatch, tmp_path, capfd):
    written = _serve_fashion(file_server, tmp_path)
    monkeypatch.setenv("ZOO_FASHION_MNIST_URL", file_server.base_url + "/fashion/")
    monkeypatch.setattr(locate, "PROGRESS_MIN_BYTES", 100)

    data = load_fashion_mnist(split="train")
    again = load_fashion_mnist(split="train")

    cache = isolated_places["home"] / "datasets" / "fashion-mnist"
    assert data.source == str(cache)
    assert again.source == str(cache)
    np.testing.assert_array_equal(data.labels, written["train"][1])
    np.testing.assert_array_equal(
        np.round(data.images[..., 0] * 255).astype(np.uint8), written["train"][0]
    )
    assert sorted(file_server.requests) == [
        "/fashion/train-images-idx3-ubyte.gz",
        "/fashion/train-labels-idx1-ubyte.gz",
    ]
    assert sorted(path.name for path in cache.iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert "/fashion/train-images-idx3-ubyte.gz: 100% of" in capfd.readouterr().err


def test_fashion_download_truncated(isolated_places, file_server, monkeypatch, tmp_path):
    _serve_fashion(file_server, tmp_path)
    file_server.truncated.add("/fashion/train-images-idx3-ubyte.gz")
    monkeypatch.setenv("ZOO_FASHION_MNIST_URL", file_server.base_url + "/fashion")

    with pytest.raises(DataNotFoundError) as caught:
        load_fashion_mnist(split="train")

    message = str(caught.value)
    size = len(file_server.files["/fashion/train-images-idx3-ubyte.gz"])
    assert "was truncated" in message
    assert f"expected {size} bytes, received {size // 2}" in message
    for name in ("shared", "system"):
        assert str(isolated_places[name] / "fashion-mnist") in message
    assert str(isolated_places["home"] / "datasets" / "fashion-mnist") in message
    assert "$ZOO_FASHION_MNIST_URL" in message
    # Nothing is left under the final name, and no temporary file either.
    cache = isolated_places["home"] / "datasets" / "fashion-mnist"
    assert sorted(path.name for path in cache.iterdir()) == []


def test_fashion_download_http_error(isolated_places, file_server, monkeypatch):
    monkeypatch.setenv("ZOO_FASHION_MNIST_URL", file_server.base_url + "/nowhere/")

    with pytest.raises(DataNotFoundError) as caught:
        load_fashion_mnist(split="test")

    message = str(caught.value)
    assert f"{file_server.base_url}/nowhere/t10k-images-idx3-ubyte.gz failed with HTTP 404" in message
    assert "Searched:" in message
    assert "Pass the folder with the four .gz IDX files as `path`" in message


def test_orl_download_from_zip(isolated_places, file_server, monkeypatch, tmp_path):
    write_orl(tmp_path / "orl" / "att_faces")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted((tmp_path / "orl").rglob("*.pgm")):
            zipped.write(path, path.relative_to(tmp_path / "orl"))
    file_server.files["/att_faces.zip"] = archive.getvalue()
    monkeypatch.setenv("ZOO_ORL_URL", file_server.base_url + "/att_faces.zip")

    data = load_orl()

    cache = isolated_places["home"] / "datasets" / "att_faces"
    assert data.source == str(cache)
    assert data.images.shape == (400, 112, 92, 1)
    assert data.images[399].max() == pytest.approx(50 / 255)
    assert sorted(path.name for path in cache.parent.iterdir()) == ["att_faces"]


def test_orl_download_http_error(isolated_places, file_server, monkeypatch):
    monkeypatch.setenv("ZOO_ORL_URL", file_server.base_url + "/missing.zip")

    with pytest.raises(DataNotFoundError) as caught:
        load_orl()

    message = str(caught.value)
    assert "HTTP 404" in message
    assert str(isolated_places["shared"] / "att_faces") in message
    assert "$ZOO_ORL_URL" in message


def test_olivetti_falls_back_to_sklearn(isolated_places, monkeypatch):
    import sklearn.datasets

    calls = []

    def fake_fetch(data_home, shuffle):
        calls.append((data_home, shuffle))
        images = np.full((400, 64, 64), 1.0, dtype=np.float32)
        return types.SimpleNamespace(images=images)

    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", fake_fetch)

    data = load_olivetti()

    assert calls == [(str(isolated_places["home"] / "datasets"), False)]
    assert data.images.shape == (400, 64, 64, 1)
    # scikit-learn scales the brightest pixel (242) to 1.
    assert data.images.max() == pytest.approx(242 / 255)
    assert data.photo_ids[-1] == 10


def test_olivetti_fallback_failure(isolated_places, monkeypatch):
    import sklearn.datasets

    def failing_fetch(data_home, shuffle):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", failing_fetch)

    with pytest.raises(DataNotFoundError) as caught:
        load_olivetti()

    message = str(caught.value)
    assert "network is unreachable" in message
    assert str(isolated_places["system"] / "olivettifaces.mat") in message
