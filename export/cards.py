"""Model cards for released artifacts, written from a run folder.

A card is a Markdown file with YAML front matter in the Hugging Face style
(`license`, `library_name`, `tags`, `datasets`, `metrics`, `model-index`)
and the sections of Mitchell et al. 2019, "Model Cards for Model
Reporting": model details, intended use, factors, metrics, evaluation
data, training data, quantitative analyses, ethical considerations, and
caveats and recommendations. Every number of the run's `metrics.json` goes
into the front matter (`zoo_metrics`, exact) and into the tables, so that
`check_card` can compare a card with the metrics it claims.
"""

import json
import math
import pathlib
import re

from zoo import io
from zoo.errors import CorruptFileError, InvalidConfigError

CARDS_DIR = "model_cards"
# A hand-written Markdown file in the card's folder `NAME/`, beside the
# pictures, becomes the card section "Comparisons".
# It compares the model with other models or with published figures (with
# their sources and settings), and it lives beside the card (not in the
# ignored run folder) so that git keeps it.
COMPARISON_FILE = "comparison.md"
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif")
DEFAULT_LICENSE = "apache-2.0"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PLAIN_SCALAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_./@+-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "none", "~"}

# Hugging Face dataset ids of the data sets the recipes read.
DATASET_IDS = {
    "fashion-mnist": "zalando-datasets/fashion_mnist",
    "orl": "att_faces",
    "orl-faces": "att_faces",
    "att_faces": "att_faces",
    "olivetti": "olivetti_faces",
    "olivetti-faces": "olivetti_faces",
}

ORL_TEXT = (
    "ORL (AT&T Laboratories Cambridge) face database: 40 people, 10 grey 112x92 photos each, "
    "taken in 1992-1994 against a dark background, mostly frontal with small changes of pose, "
    "expression, lighting and glasses. The database's README gives no demographics of the "
    "subjects, so behaviour across age, sex and skin tone is unmeasured."
)
FASHION_TEXT = (
    "Fashion-MNIST (Zalando, MIT license): 70,000 grey 28x28 photos of clothing items in 10 "
    "classes, 60,000 for training and 10,000 for testing."
)

# Per-task text: Hugging Face pipeline tag, tags and the prose of each card section.
TASK_TEXT = {
    "embedder": {
        "pipeline": "image-feature-extraction",
        "result_name": "Face verification and identification",
        "tags": ["metric-learning", "face-verification", "embeddings"],
        "summary": "An image embedder trained with a metric-learning loss: it maps a grey face photo "
        "to an L2-normalised vector, and two photos of one person lie closer than photos of two people.",
        "intended_use": "Teaching and research on metric learning: verification (same or different "
        "person at a distance threshold), identification against a small gallery, clustering and "
        "retrieval on the ORL faces or similar grey frontal photos. Out of scope: identifying or "
        "tracking real people, access control, surveillance, and any decision about a person.",
        "factors": "The ORL faces hold 40 people only (30 train the face recipe), grey, frontal, evenly "
        "lit, with a dark background. "
        "Accuracy is expected to fall on colour photos, other poses, lighting, ages and ethnic "
        "groups, none of which the data covers; no subgroup analysis is possible with 40 people.",
        "metrics": "Verification ROC AUC and equal error rate over all pairs; true accept rate at "
        "false accept rates of 1e-2 and 1e-3 with the thresholds that reach them; rank-k "
        "identification; open-set detection and identification rate at a false positive "
        "identification rate (FPIR) with its threshold; K-means NMI and ARI; retrieval Recall@k. "
        "The exported model stores the thresholds, and identification defaults to the open-set "
        "one for FPIR 1e-2. Distances are Euclidean "
        "between normalised embeddings.",
        "evaluation_data": ORL_TEXT + " The metrics are computed on the people and photos the "
        "recipe holds out, as listed in the data table below.",
        "training_data": ORL_TEXT,
        "ethics": "Face recognition can harm people when used to identify or track them without "
        "consent. This model was trained or fine-tuned on 40 people photographed for a research "
        "database and measured on 10 of them only: its false matches on other populations are "
        "unmeasured. Do not use it to identify real people or to make decisions about them.",
        "caveats": "Thresholds were fitted on the ORL evaluation pairs; refit them on your own data "
        "before trusting a same/different answer. Preprocess like the export metadata says: grey, "
        "resized to the stored input size, values in [0, 1].",
    },
    "generator": {
        "pipeline": "unconditional-image-generation",
        "result_name": "Image generation",
        "tags": ["gan", "image-generation"],
        "summary": "A generator trained adversarially against a discriminator: it maps a latent "
        "vector z drawn from N(0, I) to an image.",
        "intended_use": "Teaching and research on GAN training: sampling, latent interpolation and "
        "comparing training objectives. Out of scope: producing images presented as real, or any "
        "use that needs realistic or high-resolution output.",
        "factors": "Sample quality depends on the random seed and on the training step chosen; "
        "GANs can drop classes of the training data (mode collapse), which class coverage measures.",
        "metrics": "FID and KID between generated and real test images, computed on the features "
        "of the zoo's own Fashion-MNIST classifier, not on Inception-v3, so the values are not "
        "comparable with published FID or KID; class coverage counts the classes the classifier "
        "finds among the samples.",
        "evaluation_data": FASHION_TEXT + " Generated samples are compared with the test split.",
        "training_data": FASHION_TEXT,
        "ethics": "The model makes small grey clothing images and carries no personal data. "
        "Generated images are synthetic and should be labelled as such.",
        "caveats": "Reported scores come from one training run and one seed; GAN results vary "
        "between runs. Compare models only with metrics computed by the same classifier.",
    },
    "autoencoder": {
        "pipeline": "image-feature-extraction",
        "result_name": "Reconstruction and latent space",
        "tags": ["autoencoder", "representation-learning"],
        "summary": "An autoencoder (or variational autoencoder): an encoder maps an image to a "
        "latent z (a VAE to z_mean and z_log_var), and a decoder maps a latent back to an image.",
        "intended_use": "Teaching and research on representation learning: reconstruction, "
        "sampling from the prior (VAE), latent interpolation and clustering of latents. Out of "
        "scope: compression of data that must be recovered exactly, and anomaly detection in "
        "safety-relevant settings.",
        "factors": "Reconstruction error differs between classes and is higher for images unlike "
        "the training data; latents of other data sets are not meaningful.",
        "metrics": "Reconstruction error on test images (and, for a VAE, the KL term and sample "
        "quality), as listed in the tables below.",
        "evaluation_data": "The test split of the training data set, as listed in the data table below.",
        "training_data": "The training split of the data set listed in the data table below.",
        "ethics": "Trained on the data set named below; faces, where present, are from a research "
        "database and must not be used to identify them.",
        "caveats": "Decoded images are blurred averages, not faithful copies. Scores come from one "
        "training run and one seed.",
    },
    "translator": {
        "pipeline": "image-to-image",
        "result_name": "Image-to-image translation",
        "tags": ["gan", "pix2pix", "image-to-image"],
        "summary": "A pix2pix translator: a U-Net generator trained with an L1 loss and a PatchGAN "
        "discriminator maps an input image (edges or a masked face) to an output image.",
        "intended_use": "Teaching and research on conditional GANs. Out of scope: restoring real "
        "photos of people, forensic use, or any output presented as a real photo.",
        "factors": "Output quality depends on how close the input is to the training inputs "
        "(edge style, mask size and position).",
        "metrics": "Pixel errors between translated and target test images, as listed in the tables below.",
        "evaluation_data": "The test split of the data set listed in the data table below.",
        "training_data": "The training split of the data set listed in the data table below.",
        "ethics": "An inpainted face is invented, not recovered: it must not be used as evidence of "
        "what a person looks like.",
        "caveats": "Scores come from one training run and one seed.",
    },
    "classifier": {
        "pipeline": "image-classification",
        "result_name": "Image classification",
        "tags": ["image-classification"],
        "summary": "A CNN classifier whose penultimate features the zoo uses to score generated "
        "images (FID, KID, class coverage).",
        "intended_use": "Scoring the zoo's generators and teaching image classification. Out of "
        "scope: classifying photos of real products or people.",
        "factors": "Accuracy differs between classes; shirts, T-shirts and pullovers are the usual "
        "confusions in Fashion-MNIST.",
        "metrics": "Test accuracy and the other values listed in the tables below.",
        "evaluation_data": FASHION_TEXT + " Metrics use the test split.",
        "training_data": FASHION_TEXT,
        "ethics": "Fashion-MNIST contains product photos and no personal data.",
        "caveats": "FID and KID computed with this classifier are comparable only with each other.",
    },
}


def infer_task(config, metrics):
    """Return the card task (a key of `TASK_TEXT`) from the recipe name or the metric names.

    Raises:
        InvalidConfigError: neither the recipe name nor the metrics identify the task.
    """
    recipe = str(config.get("recipe", "")).lower()
    rules = (
        ("pix2pix", "translator"),
        ("gan", "generator"),
        ("vae", "autoencoder"),
        ("autoencoder", "autoencoder"),
        ("ae-", "autoencoder"),
        ("classifier", "classifier"),
        ("metric", "embedder"),
        ("triplet", "embedder"),
        ("embedder", "embedder"),
        ("face", "embedder"),
    )
    for word, task in rules:
        if word in recipe:
            return task
    if "verification" in metrics:
        return "embedder"
    if "fid" in metrics:
        return "generator"
    raise InvalidConfigError(
        f"Cannot tell the task of recipe {config.get('recipe')!r} from its name or metrics. "
        f"Pass task= one of {sorted(TASK_TEXT)}."
    )


def flatten_metrics(metrics, prefix=""):
    """Flatten nested metrics to `{"verification.roc_auc": 0.98, "curve.0": 0.1, ...}`.

    Dict keys are joined with '.', list items get their index.
    """
    flat = {}
    items = metrics.items() if isinstance(metrics, dict) else enumerate(metrics)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list, tuple)):
            flat.update(flatten_metrics(value, name + "."))
        else:
            flat[name] = value
    return flat


def format_value(value):
    """Return a metric as the card's tables show it: 6 significant digits for floats."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def _yaml_scalar(value):
    """Return a YAML scalar that reads back to `value` (floats exactly)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if _PLAIN_SCALAR.match(text) and text.lower() not in _YAML_WORDS:
        return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _yaml_lines(value, indent=0):
    """Emit block-style YAML for nested dicts and lists of scalars or dicts."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                # Lists sit at their key's indent, as the Hugging Face cards write them.
                lines.append(f"{pad}{_yaml_scalar(key)}:")
                lines.extend(_yaml_lines(item, indent + (0 if isinstance(item, list) else 2)))
            elif isinstance(item, (dict, list)):
                lines.append(f"{pad}{_yaml_scalar(key)}: {'[]' if isinstance(item, list) else '{}'}")
            else:
                lines.append(f"{pad}{_yaml_scalar(key)}: {_yaml_scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, dict):
            nested = _yaml_lines(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def _parse_scalar(text):
    text = text.strip()
    specials = {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf, "true": True, "false": False, "null": None}
    if text in specials:
        return specials[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read_json(path, what):
    if not path.is_file():
        raise FileNotFoundError(f"The run folder {path.parent} has no {path.name}; a card needs its {what}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CorruptFileError(f"{path} is not valid JSON ({error}). Rewrite it with `zoo evaluate`.") from error


def _metric_type(key):
    """Return the metric id of a flattened key: its last part that is not a list index."""
    parts = [part for part in key.split(".") if not part.isdigit()]
    return parts[-1] if parts else key


def _dataset(data):
    """Return the data set's display name and Hugging Face id from `config["data"]`.

    Recipes describe their data with a `name`, a `dataset` or only a
    `source` path, so each is tried in turn.
    """
    source = pathlib.PurePath(str(data.get("source", ""))).name
    data_name = str(data.get("name") or data.get("dataset") or source or "unknown")
    for candidate in (data_name, source):
        if candidate.lower() in DATASET_IDS:
            return data_name, DATASET_IDS[candidate.lower()]
    return data_name, data_name


def _front_matter(name, task, config, flat, license):
    text = TASK_TEXT[task]
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    data_name, dataset_id = _dataset(data)
    numeric = {key: value for key, value in flat.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
    metric_types = list(dict.fromkeys(_metric_type(key) for key in numeric))
    return {
        "license": license,
        "library_name": "keras",
        "pipeline_tag": text["pipeline"],
        "tags": ["keras", "onnx", "beyond-zoo", *text["tags"]],
        "datasets": [dataset_id],
        "metrics": metric_types,
        "model-index": [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": text["pipeline"], "name": text["result_name"]},
                        "dataset": {"name": data_name, "type": dataset_id},
                        "metrics": [
                            {"name": key, "type": _metric_type(key), "value": value}
                            for key, value in numeric.items()
                        ],
                    }
                ],
            }
        ],
        "zoo_metrics": dict(flat),
    }


def _table(rows, header=("setting", "value")):
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines.extend(f"| `{key}` | {value} |" for key, value in rows)
    return "\n".join(lines)


def _metric_tables(metrics):
    """Render one table per top-level group of metrics.json, top-level scalars first."""
    blocks = []
    top = [(key, format_value(value)) for key, value in metrics.items() if not isinstance(value, (dict, list, tuple))]
    if top:
        blocks.append("### Overall\n\n" + _table(top, ("metric", "value")))
    for group, value in metrics.items():
        if isinstance(value, (dict, list, tuple)):
            rows = [(key, format_value(item)) for key, item in flatten_metrics(value, f"{group}.").items()]
            blocks.append(f"### {group}\n\n" + _table(rows, ("metric", "value")))
    return blocks


def _copy_pictures(run_dir, picture_dir):
    source = run_dir / "pictures"
    if not source.is_dir():
        return []
    pictures = sorted(path for path in source.iterdir() if path.suffix.lower() in PICTURE_SUFFIXES)
    for picture in pictures:
        io.write_bytes(picture_dir / picture.name, picture.read_bytes())
    return [picture.name for picture in pictures]


def write_card(run_dir, name, out_path=None, task=None, license=DEFAULT_LICENSE):
    """Write the model card of a run to `model_cards/NAME.md`.

    Args:
        run_dir: a run folder with `config.json` and `metrics.json`, and
            optionally `pictures/`.
        name: the artifact name, for example `"face-embedder-orl"`.
        out_path: the card's path. Default: `model_cards/NAME.md` below the
            current folder. Pictures are copied to a folder `NAME/` beside it;
            a `NAME/comparison.md` there becomes the section "Comparisons".
        task: one of `TASK_TEXT` (embedder, generator, autoencoder,
            translator, classifier). Default: inferred by `infer_task`.
        license: the license id of the weights.

    Returns:
        The card's path.

    Raises:
        InvalidConfigError: `name` is not a plain name, or `task` is unknown.
        FileNotFoundError: the run folder lacks `config.json` or `metrics.json`.
        CorruptFileError: one of them is not valid JSON.
    """
    if not isinstance(name, str) or not _NAME_PATTERN.match(name) or ".." in name:
        raise InvalidConfigError(
            "A card name must contain only letters, digits, '.', '_' and '-', start with a letter "
            f"or digit and contain no '..'. Received: {name!r}"
        )
    run_dir = pathlib.Path(run_dir)
    config = _read_json(run_dir / "config.json", "recipe configuration")
    metrics = _read_json(run_dir / "metrics.json", "metrics")
    if task is None:
        task = infer_task(config, metrics)
    if task not in TASK_TEXT:
        raise InvalidConfigError(f"Unknown card task {task!r}. Expected one of {sorted(TASK_TEXT)}.")
    out_path = pathlib.Path(out_path) if out_path is not None else pathlib.Path(CARDS_DIR) / f"{name}.md"

    flat = flatten_metrics(metrics)
    pictures = _copy_pictures(run_dir, out_path.parent / name)
    comparison_path = out_path.parent / name / COMPARISON_FILE
    comparison = comparison_path.read_text(encoding="utf-8").strip() if comparison_path.is_file() else ""
    text = _render(name, task, config, metrics, flat, pictures, license, comparison)
    io.write_bytes(out_path, text.encode("utf-8"))
    return out_path


def _embedding_lines(settings):
    """Describe how a recipe changed its embedder after training, if it did.

    See `zoo.metric.embedder.feature_embedder` and
    `zoo.metric.add_local_patterns`.
    """
    lines = []
    if settings.get("backbone") == "face_resnet":
        lines.append(
            "- Starts from dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1`, public "
            "domain, 29 conv layers). According to dlib's blog, its author trained it on about 3 million "
            "faces, about half of them from the VGG and FaceScrub data sets of celebrity photos and the rest "
            f"collected from the internet. Only {_names(settings.get('trainable_layers', []))} trained here. Each photo is cut "
            f"with one fixed square (top, left, side) = {settings.get('crop')} and resized to 150 x 150, "
            "in place of dlib's landmark alignment, so faces framed unlike the ORL photos embed worse. "
            "The pretraining photos show people who did not consent to this use, and their demographics "
            "are not published."
        )
    if settings.get("int8_kernels"):
        lines.append(
            "- The kernels are rounded to int8 with one scale per output channel, and the ONNX file stores "
            "them so; the reported figures were measured on the rounded model."
        )
    if settings.get("embedding_layer"):
        lines.append(
            f"- The embedding is the flattened, unit-norm output of the inner layer "
            f"`{settings['embedding_layer']}`, not of the trained projection, because it embeds "
            "people or classes never seen in training better."
        )
    if settings.get("local_patterns_weight"):
        grid = settings["local_patterns_grid"]
        lines.append(
            f"- A {settings['local_patterns_components']}-d whitened descriptor of local binary patterns "
            f"(histograms over a {grid[0]} x {grid[1]} grid of cells, weight "
            f"{settings['local_patterns_weight']}), fitted on the training photos, joins the embedding. "
            "The patterns compare neighbouring pixels, so lossy compression (JPEG) moves the "
            "embedding far more than it moves a CNN's. Enrol and search with lossless images (PGM, PNG)."
        )
    return lines


def _names(layers):
    """Format layer names for a card sentence: "the layer `a`" or "the layers `a`, `b`"."""
    quoted = ", ".join(f"`{layer}`" for layer in layers)
    return f"the layer {quoted}" if len(layers) == 1 else f"the layers {quoted}"


def _render(name, task, config, metrics, flat, pictures, license, comparison=""):
    text = TASK_TEXT[task]
    front = _front_matter(name, task, config, flat, license)
    recipe = config.get("recipe", "unknown")
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    settings = config.get("config", {}) if isinstance(config.get("config"), dict) else {}

    details = [
        f"- Name: `{name}`; task: {task}.",
        f"- {text['summary']}",
        *_embedding_lines(settings),
        f"- Trained with the recipe `{recipe}` (`zoo train {recipe}`) on the Keras "
        f"{config.get('keras_version', 'unknown')} {config.get('backend', 'unknown')} backend.",
        f"- Served from ONNX with onnxruntime: `zoo pull {name}`, or `serving.load(\"{name}\")` in Python.",
        f"- License of the weights: {license}.",
        "",
        "Recipe configuration:",
        "",
        _table([(key, json.dumps(value)) for key, value in sorted(settings.items())]),
    ]
    # The folder the data was read from is the trainer's own; the card keeps its name only.
    card_data = dict(data, source=pathlib.PurePath(str(data["source"])).name) if "source" in data else data
    data_table = _table([(key, json.dumps(value)) for key, value in sorted(card_data.items())], ("data", "value"))
    analyses = _metric_tables(metrics)
    if pictures:
        analyses.append("### Pictures\n\n" + "\n\n".join(f"![{file}]({name}/{file})" for file in pictures))

    sections = [
        ("Model details", "\n".join(details)),
        ("Intended use", text["intended_use"]),
        ("Factors", text["factors"]),
        ("Metrics", text["metrics"]),
        ("Evaluation data", text["evaluation_data"] + "\n\n" + data_table),
        ("Training data", text["training_data"]),
        ("Quantitative analyses", "Every value of the run's `metrics.json`.\n\n" + "\n\n".join(analyses)),
        *([("Comparisons", comparison)] if comparison else []),
        ("Ethical considerations", text["ethics"]),
        ("Caveats and recommendations", text["caveats"]),
    ]
    lines = ["---", *_yaml_lines(front), "---", "", f"# {name}", ""]
    for title, body in sections:
        lines.extend([f"## {title}", "", body, ""])
    return "\n".join(lines)


def read_card(card_path):
    """Read the figures a card states.

    Returns:
        `(front, model_index, tables)`: three dicts flattened metric name ->
        value, from the front matter's `zoo_metrics` (exact values), from
        its `model-index` results, and from the tables of the "Quantitative
        analyses" section (the table text, a str).

    Raises:
        CorruptFileError: the card has no front matter.
    """
    lines = pathlib.Path(card_path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        raise CorruptFileError(f"{card_path} has no YAML front matter between '---' lines. Write it with `zoo card`.")
    end = lines.index("---", 1)
    front_lines, body = lines[1:end], lines[end + 1 :]

    front, model_index = {}, {}
    block = None
    pending_name = None
    for line in front_lines:
        if line and not line.startswith(" ") and not line.startswith("-"):
            block = line.split(":", 1)[0]
            continue
        if block == "zoo_metrics" and line.startswith("  ") and ":" in line:
            key, value = line.strip().split(": ", 1)
            front[str(_parse_scalar(key))] = _parse_scalar(value)
        elif block == "model-index":
            # `_yaml_lines` writes each result metric as "    - name: KEY" ... "      value: VALUE".
            name_match = re.match(r"^    - name: (.+)$", line)
            value_match = re.match(r"^      value: (.+)$", line)
            if name_match:
                pending_name = str(_parse_scalar(name_match.group(1)))
            elif value_match and pending_name is not None:
                model_index[pending_name] = _parse_scalar(value_match.group(1))
                pending_name = None

    tables = {}
    in_section = False
    for line in body:
        if line.startswith("## "):
            in_section = line == "## Quantitative analyses"
        match = re.match(r"^\| `([^`]+)` \| (.*) \|$", line)
        if in_section and match:
            tables[match.group(1)] = match.group(2)
    return front, model_index, tables


def _same_number(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def check_card(card_path, metrics):
    """Compare a card's figures with a run's metrics.

    Args:
        card_path: the card's `.md` file.
        metrics: the metrics dict, or the path of a `metrics.json`.

    Returns:
        A list of mismatch descriptions, empty when every figure in the
        front matter, the model-index and the tables equals `metrics`.
    """
    if not isinstance(metrics, dict):
        metrics = json.loads(pathlib.Path(metrics).read_text(encoding="utf-8"))
    expected = flatten_metrics(metrics)
    front, model_index, tables = read_card(card_path)
    numeric = {
        key: value for key, value in expected.items() if isinstance(value, (int, float)) and not isinstance(value, bool)
    }

    mismatches = []
    checks = (
        ("front matter zoo_metrics", front, expected, _same_number),
        ("model-index", model_index, numeric, _same_number),
        ("table", tables, {key: format_value(value) for key, value in expected.items()}, lambda a, b: a == b),
    )
    for where, found, wanted, equal in checks:
        for key, value in wanted.items():
            if key not in found:
                mismatches.append(f"{where}: {key} is missing from the card; metrics.json has {value!r}")
            elif not equal(found[key], value):
                mismatches.append(f"{where}: {key} is {found[key]!r} in the card but {value!r} in metrics.json")
        for key in found.keys() - wanted.keys():
            mismatches.append(f"{where}: {key} is in the card but not in metrics.json")
    return mismatches

