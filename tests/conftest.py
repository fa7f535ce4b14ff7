"""Shared fixtures: where the real data lives, and skips when it is absent."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _data_root():
    candidates = []
    if os.environ.get("ZOO_DATA_DIR"):
        candidates.append(pathlib.Path(os.environ["ZOO_DATA_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_root():
    root = _data_root()
    if root is None:
        pytest.skip("real data not found: set ZOO_DATA_DIR or put it in ../shared/data")
    return root


@pytest.fixture(scope="session")
def orl_dir(data_root):
    path = data_root / "att_faces"
    if not (path / "s1" / "1.pgm").is_file():
        pytest.skip(f"ORL faces not found at {path}")
    return path


@pytest.fixture(scope="session")
def olivetti_file(data_root):
    path = data_root / "olivettifaces.mat"
    if not path.is_file():
        pytest.skip(f"Olivetti faces not found at {path}")
    return path


@pytest.fixture(scope="session")
def fashion_dir(data_root):
    path = data_root / "fashion-mnist"
    if not (path / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST not found at {path}")
    return path
