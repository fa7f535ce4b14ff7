"""Read a run folder and load its training model and exportable parts.

Both the exporting parent process (under any backend) and the TensorFlow
conversion subprocess load the model through `load_parts`, so that the two
see the same custom classes.
"""

import importlib
import json
import logging
import pathlib
import zipfile

from zoo.errors import CorruptFileError, InvalidConfigError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"

# Modules whose import registers the zoo's serializable classes.
CORE_MODULES = ("zoo.core",)

logger = logging.getLogger(__name__)


def read_run_folder(run_dir):
    """Check a run folder and read its `config.json`.

    Args:
        run_dir: a folder written by a recipe, containing `model.keras`
            and `config.json`.

    Returns:
        `(model_path, config)`: the path of `model.keras` and the parsed
        `config.json` dict.

    Raises:
        FileNotFoundError: `run_dir`, `model.keras` or `config.json` is missing.
        CorruptFileError: `model.keras` is not a complete zip archive, or
            `config.json` is not a JSON object.
    """
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"Run folder not found: expected a folder containing {MODEL_FILE} and "
            f"{CONFIG_FILE}, received the path '{run_dir}', which does not exist or is not a folder."
        )

    present = sorted(path.name for path in run_dir.iterdir())
    for name in (MODEL_FILE, CONFIG_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(
                f"Run folder '{run_dir}' has no {name}. Expected {MODEL_FILE} and {CONFIG_FILE} "
                f"as written by a recipe; found: {present or 'nothing'}."
            )

    model_path = run_dir / MODEL_FILE
    check_keras_archive(model_path)

    config_path = run_dir / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(
            f"{config_path} is not valid JSON ({error}). Expected the JSON object a recipe writes."
        ) from error
    if not isinstance(config, dict):
        raise CorruptFileError(
            f"{config_path} must contain a JSON object. Received a {type(config).__name__}."
        )
    return model_path, config


def check_keras_archive(model_path):
    """Raise `CorruptFileError` unless `model_path` is a complete `.keras` zip.

    A `.keras` file is a zip archive with `config.json` and
    `model.weights.h5`. A copy cut short loses the zip's central directory,
    which sits at the end of the file.
    """
    size = model_path.stat().st_size
    if not zipfile.is_zipfile(model_path):
        raise CorruptFileError(
            f"{model_path} ({size} bytes) is not a complete zip archive, so it is not a "
            "valid .keras file: it may be truncated. Expected a file written by "
            "model.save(); copy or train it again."
        )
    try:
        with zipfile.ZipFile(model_path) as archive:
            names = archive.namelist()
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CorruptFileError(
            f"{model_path} ({size} bytes) is a damaged zip archive ({error}). Copy or train it again."
        ) from error
    if damaged is not None:
        raise CorruptFileError(
            f"{model_path} is a damaged zip archive: the member '{damaged}' fails its CRC check. "
            "Copy or train it again."
        )
    if "config.json" not in names:
        raise CorruptFileError(
            f"{model_path} is a zip archive but not a .keras file: expected a member "
            f"'config.json', found {sorted(names)}."
        )


def model_modules(import_modules=()):
    """List the modules to import before loading a model, in import order.

    Args:
        import_modules: extra module names, for example a test's model module.

    Returns:
        `zoo.core`, the module of every entry of `zoo.registry.MODELS`, then
        `import_modules`, without repeats.
    """
    from zoo.registry import MODELS

    names = list(CORE_MODULES)
    names += [target.split(":")[0] for target, _ in MODELS.values()]
    names += list(import_modules)
    return list(dict.fromkeys(names))


def load_parts(model_path, import_modules=()):
    """Load a training model from `model.keras` and return its exportable parts.

    Loading keeps Keras's `safe_mode` on, so a file with lambda layers is
    rejected rather than run.

    Args:
        model_path: path of a `.keras` file.
        import_modules: extra modules that register custom classes.

    Returns:
        `(model, parts)`: the training model and its dict from part name to
        `ExportPart`.

    Raises:
        InvalidConfigError: the model has no `exportable_parts()`, or it uses
            a class that no imported module registers.
        CorruptFileError: Keras cannot read the file.
    """
    import keras

    # A registered model module that fails to import must not block the
    # export of other models, so its error is kept for the message below.
    import_errors = {}
    for name in model_modules(import_modules):
        if name in import_modules:
            importlib.import_module(name)
            continue
        try:
            importlib.import_module(name)
        except Exception as error:
            logger.warning("Could not import the registered model module %s: %s", name, error)
            import_errors[name] = f"{type(error).__name__}: {error}"

    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as error:
        raise CorruptFileError(
            f"Keras could not read {model_path} ({type(error).__name__}: {error}). "
            "The file may be damaged, so copy or train it again."
        ) from error
    except TypeError as error:
        if "Could not locate" not in str(error):
            raise
        raise InvalidConfigError(
            f"{model_path} uses a class that is not registered ({error}). Import the module "
            "that defines it with import_modules=[...] (--import-module on the command line). "
            f"Registered model modules that failed to import: {import_errors or 'none'}."
        ) from error

    if not callable(getattr(model, "exportable_parts", None)):
        raise InvalidConfigError(
            f"The model in {model_path} is a {type(model).__name__}, which has no "
            "exportable_parts() method. Export works on zoo training models, which list "
            "their embedder, encoder, decoder or generator there."
        )
    return model, model.exportable_parts()


def select_parts(parts, requested, model_path):
    """Return the part names to export, in the model's order.

    Raises:
        InvalidConfigError: a requested part does not exist.
    """
    if requested is None:
        return list(parts)
    requested = [requested] if isinstance(requested, str) else list(requested)
    unknown = [name for name in requested if name not in parts]
    if unknown:
        raise InvalidConfigError(
            f"The model in {model_path} has no part {unknown}. Its exportable parts are "
            f"{sorted(parts)}."
        )
    return [name for name in parts if name in requested]


def input_names(part_model):
    """Return the input layer names of a functional part, which become ONNX input names."""
    return [tensor.name for tensor in part_model.inputs]


def output_names(part_model):
    """Return the output layer names of a functional part, which become ONNX output names."""
    return list(part_model.output_names)
