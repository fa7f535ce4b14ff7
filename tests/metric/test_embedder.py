"""The embedder's shapes, norms and names, and `.keras` round trips."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.errors import InvalidConfigError
from zoo.metric import L2Normalization, TripletModel, build_embedder


def small_embedder(**kwargs):
    options = dict(input_shape=(16, 12, 1), embedding_dim=8, widths=(4, 8), working_size=(8, 6))
    options.update(kwargs)
    return build_embedder(**options)


def test_embedder_output_shape_and_unit_norm():
    embedder = small_embedder()
    images = np.random.default_rng(0).random((5, 16, 12, 1), dtype=np.float32)

    embeddings = ops.convert_to_numpy(embedder(images, training=False))

    assert embeddings.shape == (5, 8)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_embedder_names_and_resizing():
    embedder = small_embedder()

    assert embedder.input_shape == (None, 16, 12, 1)
    assert embedder.inputs[0].name == "images"
    assert embedder.layers[-1].name == "embeddings"
    # 16 x 12 halves exactly to 8 x 6, so the resize is a 2 x 2 average.
    assert isinstance(embedder.get_layer("resize"), keras.layers.AveragePooling2D)
    assert [layer.name for layer in small_embedder().layers] == [layer.name for layer in embedder.layers]


def test_embedder_bilinear_resize_for_other_sizes():
    embedder = small_embedder(working_size=(10, 7))

    assert isinstance(embedder.get_layer("resize"), keras.layers.Resizing)
    assert embedder(np.zeros((2, 16, 12, 1), "float32")).shape == (2, 8)


def test_l2_normalization_of_zero_vector_is_zero():
    layer = L2Normalization()

    output = ops.convert_to_numpy(layer(np.zeros((2, 4), "float32")))

    assert np.all(output == 0.0)


def test_build_embedder_rejects_bad_arguments():
    with pytest.raises(InvalidConfigError, match="embedding_dim"):
        small_embedder(embedding_dim=1)
    with pytest.raises(InvalidConfigError, match="widths"):
        small_embedder(widths=())
    with pytest.raises(InvalidConfigError, match="input_shape"):
        small_embedder(input_shape=(16, 12))


def test_triplet_model_keras_round_trip(tmp_path):
    embedder = small_embedder(dropout=0.1, pooling="flatten")
    model = TripletModel(embedder, margin=0.3, mining="batch_hard", thresholds={"far_1e-2": 0.7})
    model.compile()
    rng = np.random.default_rng(1)
    images = rng.random((8, 16, 12, 1), dtype=np.float32)
    labels = np.repeat(np.arange(4), 2).astype("int32")
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)

    expected = ops.convert_to_numpy(model.embedder(images, training=False))
    actual = ops.convert_to_numpy(loaded.embedder(images, training=False))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    assert loaded.margin == 0.3
    assert loaded.mining == "batch_hard"


def test_classification_head_keras_round_trip(tmp_path):
    model = TripletModel(small_embedder(), num_classes=4, classification_scale=16.0)
    model.compile()
    rng = np.random.default_rng(2)
    images = rng.random((8, 16, 12, 1), dtype=np.float32)
    labels = np.repeat(np.arange(4), 2).astype("int32")
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)

    assert {"triplet_loss", "classification_loss", "class_accuracy"} <= set(history.history)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.class_centres), ops.convert_to_numpy(model.class_centres)
    )
    assert loaded.classification_scale == 16.0
    assert "class_centres" not in str(model.exportable_parts()["embedder"].model.weights)


def test_exportable_parts_metadata():
    model = TripletModel(small_embedder(), thresholds={"far_1e-2": 0.7})

    part = model.exportable_parts()["embedder"]

    assert part.task == "embedder"
    assert part.model is model.embedder
    assert part.metadata == {
        "input_height": "16",
        "input_width": "12",
        "input_channels": "1",
        "embedding_dim": "8",
        "threshold_far_1e-2": "0.7",
    }


@pytest.mark.parametrize("mirror_average", [False, True])
def test_feature_embedder_flattens_inner_layer(mirror_average, tmp_path):
    from zoo.metric.embedder import feature_embedder, single_view_network

    embedder = build_embedder((16, 12, 1), embedding_dim=4, widths=(3, 5), mirror_average=mirror_average)
    images = np.random.default_rng(0).uniform(size=(3, 16, 12, 1)).astype("float32")

    features = feature_embedder(embedder, "block1_pool")
    output = features.predict(images, verbose=0)
    features.save(tmp_path / "features.keras")
    loaded = keras.saving.load_model(tmp_path / "features.keras")

    network, _ = single_view_network(embedder)
    inner = keras.Model(network.input, network.get_layer("block1_pool").output)

    def unit_rows(views):
        flat = inner.predict(views, verbose=0).reshape(len(views), -1)
        return flat / np.linalg.norm(flat, axis=1, keepdims=True)

    expected = unit_rows(images)
    if mirror_average:
        expected = expected + unit_rows(images[:, :, ::-1])
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert output.shape == (3, 8 * 6 * 3)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), output)


def test_feature_embedder_rejects_unknown_layer():
    from zoo.metric.embedder import feature_embedder

    embedder = build_embedder((16, 12, 1), embedding_dim=4, widths=(3, 5), mirror_average=True)

    with pytest.raises(InvalidConfigError, match="no layer 'block3_pool'.*block1_pool"):
        feature_embedder(embedder, "block3_pool")
