"""`recipes.runner`: settings checks and cleanup after a failed start."""

import numpy as np
import pytest

import recipes
from recipes import runner
from recipes.base import Recipe
from zoo.errors import InvalidConfigError

pytestmark = pytest.mark.backend_agnostic


def _fail(run, config):
    raise RuntimeError("training failed on purpose")


FAILING = Recipe("failing-test", "Fails at once.", {"epochs": 1}, _fail, lambda run: {})


@pytest.fixture
def failing_recipe(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "failing-test", ("tests.test_runner:FAILING", "Fails at once."))


def test_failed_start_removes_run_folder(failing_recipe, tmp_path):
    out = tmp_path / "run"

    with pytest.raises(RuntimeError, match="on purpose"):
        runner.train("failing-test", out_dir=out)

    assert not out.exists()


def test_failed_start_keeps_other_files(failing_recipe, tmp_path, monkeypatch):
    def fail_after_saving(run, config):
        (run.path / "model.keras").write_bytes(b"partial")
        raise RuntimeError("training failed on purpose")

    recipe = Recipe("failing-test", "Fails late.", {"epochs": 1}, fail_after_saving, lambda run: {})
    monkeypatch.setattr(runner, "get_recipe", lambda name: recipe)
    out = tmp_path / "run"

    with pytest.raises(RuntimeError, match="on purpose"):
        runner.train("failing-test", out_dir=out)

    assert (out / "model.keras").read_bytes() == b"partial"
    assert (out / "config.json").is_file()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_epochs_must_be_positive(failing_recipe, value):
    with pytest.raises(InvalidConfigError, match="needs epochs >= 1"):
        runner.train("failing-test", overrides={"epochs": value})


def test_run_folder_loads_any_registered_model(tmp_path):
    import subprocess
    import sys

    # A fresh process has imported no model module, as when a GAN
    # evaluation loads the classifier run of another recipe.
    code = (
        "import keras, sys\n"
        "from zoo.classifier import Classifier\n"
        "from recipes.base import RunFolder\n"
        "model = Classifier(image_shape=(8, 8, 1), num_classes=3, filters=4, feature_dim=8)\n"
        f"model.save({str(tmp_path / 'model.keras')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    loader = (
        "from recipes.base import RunFolder\n"
        f"model = RunFolder({str(tmp_path)!r}).load_model()\n"
        "print(type(model).__name__)\n"
    )
    output = subprocess.run([sys.executable, "-c", loader], check=True, capture_output=True, text=True)
    assert output.stdout.strip().endswith("Classifier")


def test_epoch_checkpoint_saves_each_epoch(tmp_path):
    import keras

    from recipes.base import RunFolder, epoch_checkpoint

    run = RunFolder.create("toy", out_dir=tmp_path / "run")
    saved_epochs = []
    save_model = run.save_model
    run.save_model = lambda model: (saved_epochs.append(len(saved_epochs) + 1), save_model(model))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(8, dtype="float32").reshape(4, 2) / 8

    model.fit(x, x[:, :1], epochs=3, callbacks=[epoch_checkpoint(run)], verbose=0)

    assert saved_epochs == [1, 2, 3]
    loaded = keras.saving.load_model(run.model_path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [path.name for path in run.path.iterdir()] == ["model.keras"]
