"""Load the served models, their micro-batchers and their galleries.

`resolve_model_paths` is the one place that turns the MODEL arguments of
`zoo serve` into files. Each file becomes a `ServedModel`, reachable by its
artifact name (`ARTIFACT-PART` for one part of a multi-part artifact) or,
for a path, its file stem. Its file stem and its `model_name` metadata are
aliases while no other model claims them.
"""

import asyncio
import concurrent.futures
import dataclasses
import logging
import pathlib

from serving import hub
from serving.embedder import Embedder
from serving.errors import InvalidInputError, ModelNotFoundError
from serving.gallery import Gallery
from serving.generative import Decoder, Encoder, Translator
from serving.http.batching import MicroBatcher
from serving.runtime import OnnxModel
from serving.stylegan import GENERATOR_FILE, MAPPING_FILE, SIDE_PART_ROLES, SYNTHESIS_FILE, StyleGenerator, style_part_role

logger = logging.getLogger(__name__)

# zoo_task -> (wrapper class, name of the batched operation, wrapper method)
WRAPPERS = {
    "embedder": (Embedder, "embed"),
    "encoder": (Encoder, "encode"),
    "decoder": (Decoder, "decode"),
    "generator": (Decoder, "decode"),
    "translator": (Translator, "translate"),
}


def resolve_model_paths(models):
    """Turn MODEL arguments into `(name, path)` pairs of `.onnx` files.

    A path is served under its file stem. An artifact name is served under
    that name, and an artifact with several parts under `ARTIFACT-PART` for
    each part (see `serving.hub.resolve_parts`). A StyleGAN artifact is the
    exception: its generator is served under the artifact name, and it reads
    the mapping and synthesis parts beside it for /mix.

    Args:
        models: strings, each the path of an `.onnx` file or the name of an
            artifact in the manifest, which is pulled into the cache.

    Returns:
        A list of `(name, pathlib.Path)`, in argument order.

    Raises:
        ModelNotFoundError: an argument is neither a file nor an artifact.
    """
    pairs = []
    for model in models:
        try:
            parts = hub.resolve_parts(model)
        except hub.UnknownArtifactError as error:
            raise ModelNotFoundError(
                f"ONNX model not found: {model}. Pass the path of an exported .onnx file "
                f"or an artifact name. {error}"
            ) from error
        if not parts or not all(path.is_file() for _, path in parts):
            raise ModelNotFoundError(f"ONNX model not found: {model}. Pass the path of an exported .onnx file.")
        pairs.extend(_style_generator_only(model, parts))
    return pairs


def _style_generator_only(model, parts):
    """Return a StyleGAN artifact's generator alone, under the artifact name, and other artifacts' parts unchanged."""
    by_file = {path.name: path for _, path in parts}
    if len(parts) > 1 and {GENERATOR_FILE, MAPPING_FILE, SYNTHESIS_FILE} <= set(by_file):
        generator_name = next(name for name, path in parts if path.name == GENERATOR_FILE)
        return [(generator_name.removesuffix("-generator"), by_file[GENERATOR_FILE])]
    return parts


class GalleryStore:
    """A `Gallery` used from one dedicated thread.

    `sqlite3` connections belong to the thread that opened them, and a
    write reloads the in-memory matrix in several steps, so every gallery
    call, reads included, runs in this store's single worker thread.

    Args:
        path: the SQLite file, created when absent.
        embedder: the `Embedder` whose embeddings the gallery holds.
    """

    def __init__(self, path, embedder):
        self.path = pathlib.Path(path)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gallery-{self.path.name}")
        try:
            self.gallery = self._executor.submit(Gallery.open, self.path, embedder).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        logger.info("Opened gallery %s with %d people.", self.path, len(self.gallery))

    async def call(self, function, *args):
        """Run `function(gallery, *args)` in the gallery thread and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, self.gallery, *args)

    def close(self):
        """Close the SQLite connection in its own thread, then stop the thread."""
        self._executor.submit(self.gallery.close).result()
        self._executor.shutdown(wait=True)


@dataclasses.dataclass
class ServedModel:
    """One loaded model.

    Attributes:
        name: the model name in URLs: the artifact name, `ARTIFACT-PART`
            for a part of a multi-part artifact, else the file stem.
        aliases: other names that reach this model (its file stem and its
            `model_name` metadata).
        path: the `.onnx` file.
        task: the `zoo_task` metadata, or None. A StyleGAN mapping or
            synthesis part gets its `part_role` instead, so that no endpoint
            takes it for an encoder or a decoder.
        onnx: the `OnnxModel` that runs it.
        wrapper: the `Embedder`, `Encoder`, `Decoder`, `StyleGenerator` or
            `Translator`, or None for a task without a wrapper.
        batcher: the `MicroBatcher` of the wrapper's main operation, or None.
        gallery: the `GalleryStore` of an embedder started with a gallery, or None.
    """

    name: str
    aliases: list
    path: pathlib.Path
    task: object
    onnx: OnnxModel
    wrapper: object
    batcher: object
    gallery: object = None


class ModelRegistry:
    """The models a server serves, by name, with their executor.

    Build one with `ModelRegistry.load`. `close()` closes the galleries and
    the session thread pool.
    """

    def __init__(self, models, pairs, executor):
        self.models = models
        self.pairs = pairs
        self.executor = executor
        self._by_name = {}
        for model in models:
            self._by_name[model.name] = model
        for model in models:
            for alias in model.aliases:
                self._by_name.setdefault(alias, model)

    @classmethod
    def load(cls, paths, galleries=None, pairs=None, max_batch=32, max_wait_ms=5.0, providers=None):
        """Load ONNX files, build their batchers and open their galleries.

        Args:
            paths: `.onnx` files, each a path (served under its file stem)
                or a `(name, path)` pair from `resolve_model_paths`.
            galleries: model name -> SQLite gallery file, for embedders. The
                key None stands for the only embedder loaded.
            pairs: encoder name -> decoder name, used by `reconstruct`.
            max_batch: the maximum rows per grouped session run.
            max_wait_ms: how long a group waits for more requests, in milliseconds.
            providers: onnxruntime execution providers. Default: CUDA when usable.

        Raises:
            InvalidInputError: two files share a stem, or a gallery or pair
                names a model that is not loaded or not of the right task.
            ModelNotFoundError, CorruptFileError, InvalidModelError: a file
                is missing, not ONNX, or lacks what its task needs.
            GalleryMismatchError: a gallery was made with another model.
        """
        galleries = dict(galleries or {})
        pairs = dict(pairs or {})
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="onnxruntime")
        models = []
        try:
            for entry in paths:
                name, path = entry if isinstance(entry, tuple) else (None, entry)
                models.append(_load_one(pathlib.Path(path), max_batch, max_wait_ms / 1000.0, executor, providers, name))
            _check_unique_names(models)
            _drop_ambiguous_aliases(models)
            registry = cls(models, pairs, executor)
            registry._check_pairs()
            if None in galleries:
                embedders = [model.name for model in models if model.task == "embedder"]
                if len(embedders) != 1:
                    raise InvalidInputError(
                        f"--gallery FILE without a model name needs exactly one embedder; "
                        f"{len(embedders)} are loaded ({embedders}). Pass --gallery MODEL=FILE."
                    )
                galleries[embedders[0]] = galleries.pop(None)
            for name, gallery_path in galleries.items():
                model = registry.get(name)
                if model is None or model.task != "embedder":
                    raise InvalidInputError(
                        f"--gallery names model {name!r}, which is not a loaded embedder. "
                        f"Loaded embedders: {[m.name for m in models if m.task == 'embedder']}."
                    )
                model.gallery = GalleryStore(gallery_path, model.wrapper)
        except BaseException:
            for model in models:
                if model.gallery is not None:
                    model.gallery.close()
            executor.shutdown(wait=False)
            raise
        return registry

    def get(self, name):
        """Return the `ServedModel` called `name` (file stem or alias), or None."""
        return self._by_name.get(name)

    def names(self):
        """Return every name and alias that reaches a model."""
        return sorted(self._by_name)

    def _check_pairs(self):
        for encoder_name, decoder_name in self.pairs.items():
            encoder = self.get(encoder_name)
            decoder = self.get(decoder_name)
            if encoder is None or encoder.task != "encoder":
                raise InvalidInputError(f"--pair names {encoder_name!r}, which is not a loaded encoder.")
            if decoder is None or decoder.task not in ("decoder", "generator"):
                raise InvalidInputError(f"--pair names {decoder_name!r}, which is not a loaded decoder.")

    def close(self):
        """Close every gallery, then the session thread pool."""
        for model in self.models:
            if model.gallery is not None:
                model.gallery.close()
                model.gallery = None
        if self.executor is not None:
            self.executor.shutdown(wait=True)


def _load_one(path, max_batch, max_wait_s, executor, providers, name=None):
    onnx_model = OnnxModel(path, providers)
    task = onnx_model.task
    role = style_part_role(onnx_model)
    wrapper_class = operation = wrapper = batcher = None
    if role in SIDE_PART_ROLES:
        task = role
        logger.warning("%s is a StyleGAN %s part; it is listed but has no endpoints. Serve generator.onnx.", path.name, role)
    elif role == "generator":
        # Its batched rows are a latent followed by its psi.
        wrapper_class, operation = StyleGenerator, "decode_rows"
    elif task in WRAPPERS:
        wrapper_class, operation = WRAPPERS[task]
    else:
        logger.warning("%s has zoo_task=%r; it is listed but has no endpoints.", path.name, task)

    if wrapper_class is not None:
        # NOTE: the wrapper opens a second session on the same file; the
        # first one above is only used to read the task and is dropped.
        wrapper = wrapper_class(path, providers=providers, batch_size=max_batch)
        onnx_model = wrapper.model
        batcher = MicroBatcher(f"{name or path.stem}/{operation}", getattr(wrapper, operation), max_batch, max_wait_s, executor)

    # The file stem and the recipe's model_name stay reachable as aliases
    # while no other model claims them.
    name = name or path.stem
    aliases = []
    for alias in (path.stem, onnx_model.metadata.get("model_name")):
        if alias and alias != name and alias not in aliases:
            aliases.append(alias)
    logger.info("Loaded %s (%s) as %s on %s.", path, task, name, onnx_model.provider)
    return ServedModel(
        name=name,
        aliases=aliases,
        path=path,
        task=task,
        onnx=onnx_model,
        wrapper=wrapper,
        batcher=batcher,
    )


def _check_unique_names(models):
    seen = {}
    for model in models:
        if model.name in seen:
            raise InvalidInputError(
                f"Two models have the name {model.name!r}: {seen[model.name]} and {model.path}. "
                "Rename one file or serve them by artifact name: the name in URLs is the artifact name or the file stem."
            )
        seen[model.name] = model.path


def _drop_ambiguous_aliases(models):
    """Keep a `model_name` alias only when exactly one model claims it and no stem equals it."""
    stems = {model.name for model in models}
    claims = {}
    for model in models:
        for alias in model.aliases:
            claims[alias] = claims.get(alias, 0) + 1
    for model in models:
        model.aliases = [alias for alias in model.aliases if claims[alias] == 1 and alias not in stems]
