"""Model cards: `export.cards.write_card`, `check_card`, and the released cards."""

import json
import pathlib

import pytest
from click.testing import CliRunner

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.backend_agnostic

CONFIG = {
    "recipe": "metric-orl",
    "backend": "jax",
    "keras_version": "3.15.1",
    "config": {"margin": 0.2, "epochs": 3},
    "data": {"name": "orl", "train_people": 30, "test_people": 10},
}
METRICS = {
    "verification": {"roc_auc": 0.9731, "eer": 0.0812, "threshold_far_1e-2": 0.9123456789},
    "identification": {"rank_1": 0.9, "rank_5": 1.0},
    "recall_at": [0.9, 0.95],
    "test_images": 100,
}
SECTIONS = [
    "## Model details",
    "## Intended use",
    "## Factors",
    "## Metrics",
    "## Evaluation data",
    "## Training data",
    "## Quantitative analyses",
    "## Ethical considerations",
    "## Caveats and recommendations",
]


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run"
    (run / "pictures").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(CONFIG))
    (run / "metrics.json").write_text(json.dumps(METRICS))
    (run / "pictures" / "roc.png").write_bytes(b"\x89PNG fake")
    return run


@pytest.fixture
def card(run_dir, tmp_path):
    from export.cards import write_card

    return write_card(run_dir, "face-embedder-orl", out_path=tmp_path / "model_cards" / "face-embedder-orl.md")


def test_card_sections_in_order(card):
    text = card.read_text()
    positions = [text.index(section) for section in SECTIONS]

    assert text.startswith("---\nlicense: apache-2.0\nlibrary_name: keras\n")
    assert positions == sorted(positions)
    assert "Do not use it to identify real people" in text
    assert "40 people" in text


def test_card_numbers_in_tables(card):
    text = card.read_text()

    assert "| `verification.roc_auc` | 0.9731 |" in text
    assert "| `verification.threshold_far_1e-2` | 0.912346 |" in text
    assert "| `recall_at.1` | 0.95 |" in text
    assert "| `test_images` | 100 |" in text
    assert "| `margin` | 0.2 |" in text


def test_card_front_matter_parses_back(card):
    from export.cards import read_card

    front, model_index, tables = read_card(card)

    assert front["verification.threshold_far_1e-2"] == 0.9123456789
    assert model_index["identification.rank_5"] == 1.0
    assert tables["identification.rank_1"] == "0.9"
    assert len(front) == 8


def test_card_front_matter_is_valid_yaml(card):
    yaml = pytest.importorskip("yaml")
    front = yaml.safe_load(card.read_text().split("---\n")[1])

    result = front["model-index"][0]["results"][0]
    assert front["datasets"] == ["att_faces"]
    assert result["task"]["type"] == "image-feature-extraction"
    assert {"name": "verification.eer", "type": "eer", "value": 0.0812} in result["metrics"]
    assert front["zoo_metrics"]["recall_at.0"] == 0.9


def test_card_copies_pictures(card):
    text = card.read_text()

    assert (card.parent / "face-embedder-orl" / "roc.png").read_bytes() == b"\x89PNG fake"
    assert "![roc.png](face-embedder-orl/roc.png)" in text


def test_check_card_matches_metrics(card, run_dir):
    from export.cards import check_card

    assert check_card(card, METRICS) == []
    assert check_card(card, run_dir / "metrics.json") == []


def test_check_card_catches_changed_number(card):
    from export.cards import check_card

    changed = json.loads(json.dumps(METRICS))
    changed["verification"]["roc_auc"] = 0.9732

    mismatches = check_card(card, changed)

    assert len(mismatches) == 3
    assert all("verification.roc_auc" in line for line in mismatches)


def test_check_card_catches_edited_table(card):
    from export.cards import check_card

    card.write_text(card.read_text().replace("| `identification.rank_1` | 0.9 |", "| `identification.rank_1` | 0.95 |"))

    assert check_card(card, METRICS) == ["table: identification.rank_1 is '0.95' in the card but '0.9' in metrics.json"]


def test_check_card_catches_missing_metric(card):
    from export.cards import check_card

    extra = dict(METRICS, open_set={"false_accept_rate": 0.01})

    mismatches = check_card(card, extra)

    assert len(mismatches) == 3
    assert all("open_set.false_accept_rate is missing" in line for line in mismatches)


def test_card_comparison_section(run_dir, tmp_path):
    from export.cards import check_card, write_card

    # A published figure in the comparison must not count as a figure of this run.
    (tmp_path / "cards" / "with-comparison").mkdir(parents=True)
    (tmp_path / "cards" / "with-comparison" / "comparison.md").write_text("| metric | Paper A |\n| --- | --- |\n| `verification.roc_auc` | 0.5 |\n")
    card = write_card(run_dir, "with-comparison", out_path=tmp_path / "cards" / "with-comparison.md")
    text = card.read_text()

    assert "## Comparisons\n\n| metric | Paper A |" in text
    assert text.index("## Quantitative analyses") < text.index("## Comparisons")
    assert text.index("## Comparisons") < text.index("## Ethical considerations")
    assert check_card(card, METRICS) == []


def test_write_card_rejects_path_names(run_dir):
    from export.cards import write_card
    from zoo.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="card name"):
        write_card(run_dir, "../escape")


def test_card_command_writes_card(run_dir, tmp_path):
    from zoo.cli import main

    out = tmp_path / "cards" / "gen.md"
    result = CliRunner().invoke(main, ["card", str(run_dir), "--name", "gen", "--out", str(out), "--task", "generator"])

    assert result.exit_code == 0, result.output
    assert "FID and KID" in out.read_text()
    assert f"wrote {out}" in result.output


def _manifest_entries():
    manifest = REPO_ROOT / "artifacts" / "manifest.json"
    if not manifest.is_file():
        return []
    return json.loads(manifest.read_text())["artifacts"]


def test_manifest_cards_match_metrics():
    from export.cards import check_card, flatten_metrics

    entries = _manifest_entries()
    if not entries:
        pytest.skip("artifacts/manifest.json lists no artifacts yet, so there are no released cards to check")

    failures = []
    for entry in entries:
        name = entry["name"]
        card = REPO_ROOT / entry.get("model_card", f"model_cards/{name}.md")
        metrics = REPO_ROOT / "artifacts" / name / "metrics.json"
        if not card.is_file():
            failures.append(f"{name}: model card {card} is missing")
            continue
        if not metrics.is_file():
            failures.append(f"{name}: {metrics} is missing; copy the run's metrics.json there")
            continue
        failures.extend(f"{name}: {line}" for line in check_card(card, metrics))

        # The manifest's headline metrics must be copies of metrics.json values too.
        flat = flatten_metrics(json.loads(metrics.read_text()))
        for key, value in flatten_metrics(entry.get("metrics", {})).items():
            if flat.get(key) != value:
                failures.append(f"{name}: manifest metric {key}={value!r} but metrics.json has {flat.get(key)!r}")

    assert failures == []


def test_card_keeps_data_folder_name_only(run_dir, tmp_path):
    from export.cards import write_card

    config = dict(CONFIG, data={"source": "/home/someone/data/att_faces", "train_people": 30})
    (run_dir / "config.json").write_text(json.dumps(config))

    text = write_card(run_dir, "face-embedder-orl", out_path=tmp_path / "card.md").read_text()

    assert '| `source` | "att_faces" |' in text
    assert "/home/someone" not in text


def test_released_cards_name_no_local_folders():
    for card in sorted((REPO_ROOT / "model_cards").glob("*.md")):
        assert "/work/" not in card.read_text(), card.name
