"""The autoencoder recipes end to end with tiny configurations."""

import json

import pytest

from recipes import runner

TINY = {
    "train_size": 256,
    "test_size": 128,
    "epochs": 1,
    "batch_size": 64,
    "filters": [4, 8],
    "hidden_units": 16,
    "kmeans_size": 128,
    "kmeans_n_init": 1,
    "picture_count": 4,
}


@pytest.mark.parametrize(
    "name, overrides, extra_pictures",
    [
        ("ae-fashion", {"latent_dim": 4}, set()),
        ("vae-fashion", {"latent_dim": 2, "iwae_samples": 4, "iwae_size": 32}, {"manifold.png"}),
    ],
)
def test_recipe_writes_run_folder(tmp_path, fashion_dir, name, overrides, extra_pictures):
    config = {**TINY, **overrides, "data_dir": str(fashion_dir)}

    run = runner.train(name, config, out_dir=tmp_path / "run")

    files = {path.name for path in run.path.iterdir()}
    pictures = {path.name for path in (run.path / "pictures").iterdir()}
    metrics = json.loads((run.path / "metrics.json").read_text())
    record = json.loads((run.path / "config.json").read_text())
    assert {"model.keras", "config.json", "history.json", "metrics.json", "pictures"} <= files
    assert {
        "reconstructions.png",
        "samples.png",
        "interpolation.png",
        "latent_scatter.png",
        "arithmetic.png",
    } | extra_pictures <= pictures
    assert record["data"]["train_images"] == 256
    assert 0.0 < metrics["test_mse_per_pixel"] < 0.2
    assert 0.0 < metrics["pca_mse_per_pixel"] < 0.2
    assert 0.0 <= metrics["kmeans_pixels_nmi"] <= 1.0
    if name == "vae-fashion":
        assert metrics["test_nll_iwae_nats"] <= -metrics["test_elbo_nats"] + 5.0
        assert len(metrics["kl_per_dim_nats"]) == 2
