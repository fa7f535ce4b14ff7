"""Face quality reference: the release next to dlib's face ResNet under other crops.

    python -m benchmarks.face_reference [--data DIR] [--out face_reference.json]

The face release starts from dlib's face recognition ResNet
(`dlib_face_recognition_resnet_model_v1`, public domain, 29 conv layers,
a 22 MB file), trained on about 3 million faces according to dlib's blog,
and fine-tunes its last layer on ORL people s1-s30. This script scores,
with the protocol of `zoo evaluate` on s31-s40
(`recipes.triplet_evaluation.face_metrics`, nearest enrolled photo):

- the released `artifacts/face-embedder-orl` ONNX file, through `serving`;
- Eigenfaces (PCA-64 on 56 x 46 pixels of s1-s30), the baseline of `zoo evaluate`;
- dlib's network run by dlib itself, on faces aligned by its detector and
  landmarks as dlib intends;
- the same network on one fixed square per photo, fitted on the training
  photos (alone, then averaged with the mirror image, as the release does),
  because an exported embedder (images in, embeddings out) has no detector;
- the same network on whole photos resized to its input.

So the rows show what the fixed crop costs against dlib's own alignment,
and what the release's fine-tuning and int8 kernels change. dlib is needed:
`pip install dlib-bin face_recognition_models` (about 100 MB).

dlib's network reads RGB face chips of 150 x 150 pixels aligned on five
landmarks. Each grey ORL photo is repeated to three channels. When the HOG
face detector finds no face in it, the landmarks are sought in a box
around the centre.
"""

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path

import numpy as np

RELEASE = Path(__file__).resolve().parent.parent / "artifacts" / "face-embedder-orl"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
FIGURES = ("auc", "tar_far_1e-2", "rank_1", "ari")

logger = logging.getLogger(__name__)


def dlib_embedder(crop="landmarks", train_images=None):
    """Return dlib's face embedding function, `(N, H, W, 1)` in [0, 1] -> (N, 128).

    Args:
        crop: how each photo becomes a 150 x 150 chip. "landmarks": detect
            the face and align it on five landmarks, as dlib intends.
            "training box": cut every photo with one box, the median of the
            aligned boxes of `train_images`, as a fixed crop inside an
            exported model could. "whole photo": resize the whole photo.
        train_images: the training photos, for "training box".

    Raises:
        SystemExit: when dlib or its model files are not installed.
    """
    # face_recognition_models imports pkg_resources, which recent setuptools
    # removed, so the package folder is located without importing it.
    models = importlib.util.find_spec("face_recognition_models")
    try:
        import dlib
    except ImportError:
        dlib = None
    if dlib is None or models is None:
        raise SystemExit(
            "The dlib reference needs the packages dlib and face_recognition_models. Install them with: "
            "pip install dlib-bin face_recognition_models"
        )
    from PIL import Image

    folder = Path(models.submodule_search_locations[0]) / "models"
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    network = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def rgb(image):
        return np.asarray(Image.fromarray(np.round(image[..., 0] * 255).astype(np.uint8)).convert("RGB"))

    def aligned_box(pixels):
        faces = detector(pixels, 0)
        if not faces:
            return None
        face = max(faces, key=lambda found: found.area())
        return dlib.get_face_chip_details(landmarks(pixels, face), CHIP_SIZE, CHIP_PADDING)

    def chip(pixels):
        if crop == "whole photo":
            return np.asarray(Image.fromarray(pixels).resize((CHIP_SIZE, CHIP_SIZE), Image.BILINEAR))
        details = fixed_box if crop == "training box" else aligned_box(pixels)
        if details is None:
            # No face found: align the centre of the photo as if it were one.
            height, width = pixels.shape[:2]
            centre = dlib.rectangle(width // 10, height // 8, width * 9 // 10, height * 9 // 10)
            details = dlib.get_face_chip_details(landmarks(pixels, centre), CHIP_SIZE, CHIP_PADDING)
        return dlib.extract_image_chip(pixels, details)

    fixed_box = None
    if crop == "training box":
        boxes = [box for box in map(aligned_box, map(rgb, train_images)) if box is not None]
        centre_x, centre_y, side = np.median(
            [(box.rect.center().x, box.rect.center().y, box.rect.width()) for box in boxes], axis=0
        )
        rect = dlib.drectangle(centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2)
        fixed_box = dlib.chip_details(rect, dlib.chip_dims(CHIP_SIZE, CHIP_SIZE))
        logger.info("dlib: the training box is %.1f pixels wide, centred at (%.1f, %.1f)", side, centre_x, centre_y)

    def embed(images):
        embeddings = np.stack([network.compute_face_descriptor(chip(rgb(image))) for image in images])
        return (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float32)

    return embed


def mirror_average(embed):
    """Return `embed` averaged over each image and its horizontal mirror, renormalised."""

    def embed_both(images):
        embeddings = embed(images) + embed(images[:, :, ::-1])
        return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    return embed_both


def release_embedder(path=RELEASE):
    """Return the released ONNX embedder's embedding function, run by `serving`."""
    from serving import Embedder

    embedder = Embedder(path)
    logger.info("Release: %s on %s", path, embedder.model.provider)
    return embedder.embed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="the att_faces folder; default: the usual places")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from recipes.data import load_orl, split_orl_identities
    from recipes.triplet_evaluation import EIGENFACES_COMPONENTS, EIGENFACES_SIZE, face_metrics
    from zoo.metric import evaluation

    split = split_orl_identities(load_orl(args.data))
    training_box = dlib_embedder("training box", split["train"].images)
    embedders = {
        "face-embedder-orl (release)": release_embedder(),
        "Eigenfaces (PCA-64)": evaluation.eigenfaces(split["train"].images, EIGENFACES_COMPONENTS, EIGENFACES_SIZE),
        "dlib ResNet (about 3M faces)": dlib_embedder(),
        "dlib ResNet, one training box": training_box,
        "dlib ResNet, one training box, mirror average": mirror_average(training_box),
        "dlib ResNet, whole photo": dlib_embedder("whole photo"),
    }

    results = {}
    for name, embed in embedders.items():
        metrics, _ = face_metrics(embed, split, "all")
        results[name] = {figure: metrics[figure] for figure in FIGURES}
        results[name]["dir_fpir_1e-2"] = metrics["open_set"]["dir_fpir_1e-2"]

    columns = [*FIGURES, "dir_fpir_1e-2"]
    print("| embedder | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, figures in results.items():
        print(f"| {name} | " + " | ".join(f"{figures[column]:.3f}" for column in columns) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        logger.info("Wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
