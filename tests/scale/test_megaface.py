"""MegaFace-style rank-1 curve: golden cases and a small run on ORL."""

import json

import keras
import numpy as np
import pytest

from recipes.base import CONFIG_FILE, RunFolder
from recipes.megaface import distractor_counts, evaluate_megaface, rank_1_curve
from zoo.metric import evaluation


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_distractor_counts_are_decades():
    assert distractor_counts(100_000) == [10, 100, 1000, 10_000, 100_000]
    assert distractor_counts(250) == [10, 100, 250]


def test_rank_1_curve_golden():
    rng = np.random.default_rng(0)
    people = unit(rng.normal(size=(3, 16)))
    enrol_labels = np.array([0, 0, 1, 1, 2, 2])
    enrol = unit(people[enrol_labels] + 0.05 * rng.normal(size=(6, 16)))
    probes = unit(enrol[::2] + 0.05 * rng.normal(size=(3, 16)))
    probe_labels = np.array([0, 1, 2])
    far = unit(-np.repeat(probes.sum(0, keepdims=True), 20, axis=0) + 0.01 * rng.normal(size=(20, 16)))
    # Distractor 15 is probe 1 itself, so from count 16 on probe 1 misses.
    far[15] = probes[1]
    chunks = [far[:7], far[7:]]

    curve = rank_1_curve(enrol, enrol_labels, probes, probe_labels, chunks, [10, 20])

    expected = evaluation.identification(enrol, enrol_labels, probes, probe_labels, ranks=(1,))["rank_1"]
    assert curve["counts"] == [0, 10, 20]
    assert curve["rank_1"][0] == pytest.approx(expected)
    assert curve["rank_1"] == pytest.approx([1.0, 1.0, 2 / 3])
    assert curve["distractors_seen"] == 20


def test_megaface_run_on_orl(orl_dir, tmp_path):
    from zoo.metric import TripletModel, build_embedder

    keras.utils.set_random_seed(0)
    run = RunFolder.create("triplet-faces", tmp_path / "run")
    embedder = build_embedder(input_shape=(112, 92, 1), embedding_dim=16, widths=(4,), working_size=(28, 23))
    run.save_model(TripletModel(embedder))
    run.write_json(CONFIG_FILE, {"recipe": "triplet-faces", "config": {"data_dir": str(orl_dir), "gallery": "mean"}})

    report = evaluate_megaface(run.path, "generated", max_distractors=100)

    assert report["counts"] == [0, 10, 100]
    assert all(later <= earlier for earlier, later in zip(report["rank_1"], report["rank_1"][1:]))
    assert "s1-s30" in report["distractors"]
    assert json.loads((run.path / "megaface.json").read_text())["rank_1"] == report["rank_1"]
    assert (run.path / "pictures" / "megaface.png").stat().st_size > 1000


def test_megaface_folder_distractors(orl_dir, tmp_path):
    from zoo.metric import TripletModel, build_embedder

    run = RunFolder.create("triplet-faces", tmp_path / "run")
    embedder = build_embedder(input_shape=(112, 92, 1), embedding_dim=16, widths=(4,), working_size=(28, 23))
    run.save_model(TripletModel(embedder))
    run.write_json(CONFIG_FILE, {"recipe": "triplet-faces", "config": {"data_dir": str(orl_dir), "gallery": "mean"}})

    # The 10 photos of person s1 stand for a user's folder of face images.
    report = evaluate_megaface(run.path, str(orl_dir / "s1"), max_distractors=10)

    assert report["distractors_seen"] == 10
    assert str((orl_dir / "s1").resolve()) in report["distractors"]
