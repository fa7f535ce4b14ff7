"""The FastAPI application that serves exported models over HTTP.

Build it with `create_app(registry)`; `serving.http.server.serve` runs it
with uvicorn. Endpoints (all errors are JSON, see `serving.http.errors`):

- `GET /health`, `GET /ready`, `GET /models`, `GET /models/{name}`;
- embedders: `POST .../embed`, `.../verify`, `.../identify`, and the
  gallery: `POST .../gallery` (enrol), `GET .../gallery`,
  `DELETE .../gallery/{person}`;
- decoders and generators: `POST .../sample`, `.../interpolate`, `.../decode`,
  and `.../mix` for a StyleGAN generator with its mapping and synthesis parts;
- encoders: `POST .../reconstruct`; translators: `POST .../translate`.

Images arrive as multipart file parts or base64 strings in JSON. Generated
images return as one PNG grid (`format=png`), base64 PNGs in JSON
(`format=base64`) or float arrays in JSON (`format=json`).
"""

import base64
import contextlib
import io
import logging

import numpy as np

from serving.embedder import lookup_threshold
from serving.errors import InvalidInputError, InvalidModelError, ServingError
from serving.gallery import check_person_name
from serving.generative import interpolate_latents, make_grid
from serving.http.bodies import MAX_IMAGES, MAX_SEED, describe_body, parse_fields, reject_unknown_fields
from serving.http.errors import ERROR_CODES, ERROR_SCHEMA, HTTPError, from_serving_error
from serving.http.registry import ModelRegistry
from serving.images import import_pillow, prepare_images, to_uint8
from serving.stylegan import PSI_MAX, PSI_MIN, StyleGenerator

logger = logging.getLogger(__name__)

API_VERSION = "1"
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SAMPLES = 256
# A mixing grid shows (rows + 1) x (columns + 1) tiles, sources included: at most MAX_SAMPLES.
MAX_MIX_SOURCES = 15
FORMATS = ("png", "base64", "json")
DECODERS = ("decoder", "generator")

# zoo_task -> the model endpoints (below /models/{name}/) that serve it, for error messages.
_ENDPOINTS_BY_TASK = {
    "embedder": ("embed", "verify", "identify", "gallery"),
    "encoder": ("reconstruct",),
    "decoder": ("decode", "sample", "interpolate"),
    "generator": ("decode", "sample", "interpolate", "mix"),
    "translator": ("translate",),
}

_FORMAT_FIELD = {
    "type": "string",
    "enum": list(FORMATS),
    "default": "png",
    "description": "png: one PNG grid; base64: JSON with one base64 PNG per image; json: JSON float arrays in [0, 1].",
}
_NCOLS_FIELD = {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLES, "default": 8, "description": "Images per row of the PNG grid."}
_SOURCES_DESCRIPTION = (
    "Integer seeds (seed s gives the image of /sample with n=1 and seed s) or latents of shape (count, latent_dim)."
)
_SOURCES_FIELD = {
    "oneOf": [
        {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_SEED}, "minItems": 1, "maxItems": MAX_MIX_SOURCES},
        {"type": "array", "items": {"type": "array", "items": {"type": "number"}}, "minItems": 1, "maxItems": MAX_MIX_SOURCES},
    ],
}
DEFAULT_MIX_ROWS = (1, 2, 3, 4)
DEFAULT_MIX_COLUMNS = (5, 6, 7, 8, 9)
_LATENT_FIELD = {"type": "array", "items": {"type": "number"}, "minItems": 1, "description": "One latent of latent_dim numbers."}

_ERROR_CONTENT = {"application/json": {"schema": ERROR_SCHEMA}}
_ERROR_RESPONSES = {
    status: {"description": ERROR_CODES[status].replace("_", " "), "content": _ERROR_CONTENT}
    for status in (400, 404, 409, 413, 415, 422)
}
_IMAGE_RESPONSES = {
    200: {
        "description": "The images: a PNG grid, or JSON with base64 PNGs or float arrays.",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}, "application/json": {"schema": {"type": "object"}}},
    },
    **_ERROR_RESPONSES,
}


def create_app(registry=None, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES):
    """Build the FastAPI application.

    Args:
        registry: the `ModelRegistry` to serve. None serves no models, which
            is enough to generate the OpenAPI schema.
        max_upload_bytes: the largest request body accepted; larger ones get 413.

    Returns:
        A `fastapi.FastAPI` application. It does not close `registry`: the
        caller that loaded it closes it.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    if registry is None:
        registry = ModelRegistry([], {}, executor=None)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.ready = True
        logger.info("Serving %d models: %s.", len(registry.models), [model.name for model in registry.models])
        yield
        app.state.ready = False
        for model in registry.models:
            if model.batcher is not None:
                await model.batcher.close()

    app = FastAPI(
        title="beyond-zoo serving",
        version=API_VERSION,
        description=(
            "Embeddings, verification, identification and generation with exported ONNX models. "
            "The {name} in a URL is the artifact name passed to `zoo serve`; an artifact with several parts "
            "(an encoder and a decoder) serves each part as ARTIFACT-PART, for example vae-fashion-mnist-decoder. "
            "A model given as a file path is served under its file stem. The file stem and the model_name "
            "metadata also reach a model while no other served model claims them."
        ),
        lifespan=lifespan,
    )
    app.state.ready = False
    app.state.registry = registry

    @app.exception_handler(HTTPError)
    async def http_error_handler(request, error):
        logger.info("%s %s -> %d: %s", request.method, request.url.path, error.status, error.detail)
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(ServingError)
    async def serving_error_handler(request, error):
        return await http_error_handler(request, from_serving_error(error))

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error_handler(request, error):
        body = HTTPError(error.status_code, str(error.detail)).body()
        return JSONResponse(body, status_code=error.status_code, headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error_handler(request, error):
        problems = error.errors()
        first = problems[0] if problems else {}
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        detail = first.get("msg", "The request is invalid.")
        return await http_error_handler(request, HTTPError(422, detail, field=field))

    @app.exception_handler(Exception)
    async def internal_error_handler(request, error):
        logger.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(HTTPError(500, f"Internal error: {type(error).__name__}. See the server log.").body(), status_code=500)

    def find_model(name, tasks, endpoint):
        model = registry.get(name)
        if model is None:
            raise HTTPError(
                404,
                f"Model {name!r} is not served. Served models: {registry.names()}.",
                field="name",
                expected=f"one of {registry.names()}",
            )
        if model.task not in tasks:
            # The model exists, so the request is unprocessable rather than not found.
            served = _ENDPOINTS_BY_TASK.get(model.task, ())
            if not (isinstance(model.wrapper, StyleGenerator) and model.wrapper.can_mix):
                served = tuple(route for route in served if route != "mix")
            offer = f"it serves {', '.join('/' + route for route in served)}" if served else "it serves no endpoint"
            article = "an" if model.task[:1] in "aeiou" else "a"
            raise HTTPError(
                422,
                f"Model {name!r} is {article} {model.task}; {offer}. /{endpoint} needs a model with zoo_task in {list(tasks)}.",
                field="name",
                expected=f"a model with zoo_task in {list(tasks)}",
            )
        return model

    def find_gallery(model):
        if model.gallery is None:
            raise HTTPError(
                404,
                f"Model {model.name!r} has no gallery. Start the server with --gallery FILE for it.",
                field="name",
            )
        return model.gallery

    async def read_fields(request):
        fields = await parse_fields(request, max_upload_bytes)
        # The route's documented body is the list of fields it reads, so a
        # misspelt field ("treshold") fails instead of falling back to a default.
        route = request.scope.get("route")
        body = (getattr(route, "openapi_extra", None) or {}).get("requestBody")
        if body is not None:
            reject_unknown_fields(fields, body)
        # No endpoint reads the query string, so "?threshold=0.5" would otherwise be ignored.
        if request.query_params:
            name = next(iter(request.query_params))
            raise HTTPError(
                422,
                f"Query parameters are not read; received {name!r}. Send every field in the JSON or multipart body.",
                field=name,
                expected="no query parameters",
            )
        return fields

    async def read_images(fields, name, input_shape, count=None):
        height, width, channels = input_shape

        def decode_and_prepare():
            images = fields.images(name, count=count)
            try:
                return prepare_images(images, height, width, channels)
            except ServingError as error:
                raise from_serving_error(error, field=name) from error

        return await run_in_threadpool(decode_and_prepare)

    async def run_batched(model, rows, field):
        try:
            return await model.batcher.submit(rows)
        except ServingError as error:
            raise from_serving_error(error, field=field) from error

    async def render(images, output_format, ncols):
        if output_format == "json":
            return {"shape": list(images.shape), "images": images.tolist()}
        if output_format == "base64":
            encoded = await run_in_threadpool(lambda: [base64.b64encode(_png_bytes(image)).decode("ascii") for image in images])
            return {"media_type": "image/png", "images": encoded}
        grid = await run_in_threadpool(lambda: _png_bytes(make_grid(images, ncols=ncols)))
        return Response(content=grid, media_type="image/png")

    @app.get("/health", summary="Liveness: the process answers.")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: every model is loaded.", responses={503: {"description": "not ready", "content": _ERROR_CONTENT}})
    async def ready():
        if not app.state.ready:
            raise HTTPError(503, "The server is starting or stopping.")
        return {"status": "ready", "models": [model.name for model in registry.models]}

    @app.get("/models", summary="List the served models.")
    async def list_models():
        return {"models": [_model_summary(model) for model in registry.models]}

    @app.get("/models/{name}", summary="Describe one model: metadata, inputs and outputs.", responses=_ERROR_RESPONSES)
    async def describe_model(name: str):
        model = registry.get(name)
        if model is None:
            raise HTTPError(404, f"Model {name!r} is not served. Served models: {registry.names()}.", field="name")
        return _model_details(model)

    @app.post(
        "/models/{name}/embed",
        summary="Embed images with an embedder.",
        openapi_extra={"requestBody": describe_body({}, required=["images"], images=[("images", False)])},
        responses=_ERROR_RESPONSES,
    )
    async def embed(name: str, request: Request):
        model = find_model(name, ("embedder",), "embed")
        fields = await read_fields(request)
        batch = await read_images(fields, "images", model.wrapper.input_shape)
        embeddings = await run_batched(model, batch, "images")
        return {"model": model.name, "embedding_dim": model.wrapper.embedding_dim, "embeddings": embeddings.tolist()}

    @app.post(
        "/models/{name}/verify",
        summary="Decide whether two images show the same identity.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "far": {"type": "number", "default": 0.01, "description": "False accept rate whose stored threshold is used."},
                    "threshold": {"type": "number", "minimum": 0, "description": "Distance threshold; overrides far."},
                },
                required=["image_a", "image_b"],
                images=[("image_a", True), ("image_b", True)],
            )
        },
        responses=_ERROR_RESPONSES,
    )
    async def verify(name: str, request: Request):
        model = find_model(name, ("embedder",), "verify")
        fields = await read_fields(request)
        threshold, far = _threshold(model, fields)
        image_a = await read_images(fields, "image_a", model.wrapper.input_shape, count=1)
        image_b = await read_images(fields, "image_b", model.wrapper.input_shape, count=1)
        embeddings = await run_batched(model, np.concatenate([image_a, image_b]), "image_a")
        distance = float(np.linalg.norm(embeddings[0].astype(np.float64) - embeddings[1].astype(np.float64)))
        return {"distance": distance, "threshold": threshold, "far": far, "same": distance <= threshold}

    @app.post(
        "/models/{name}/identify",
        summary="Find the nearest enrolled people for each image.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "k": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 5, "description": "Nearest people to list per image."},
                    "fpir": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "description": "False positive identification rate whose stored open-set threshold is used. "
                        "Default: 0.01, or far 0.01 for models exported without open-set thresholds.",
                    },
                    "far": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "description": "False accept rate whose stored 1:1 verification threshold is used instead of fpir.",
                    },
                    "threshold": {"type": "number", "minimum": 0, "description": "Distance threshold; overrides fpir and far."},
                },
                required=["images"],
                images=[("images", False)],
            )
        },
        responses=_ERROR_RESPONSES,
    )
    async def identify(name: str, request: Request):
        model = find_model(name, ("embedder",), "identify")
        gallery = find_gallery(model)
        fields = await read_fields(request)
        k = fields.integer("k", 5, 1, 1000)
        threshold, fpir, far = _identify_threshold(model, fields)
        batch = await read_images(fields, "images", model.wrapper.input_shape)
        embeddings = await run_batched(model, batch, "images")
        results = await gallery.call(_identify, embeddings, k, threshold)
        return {"threshold": threshold, "fpir": fpir, "far": far, "results": results}

    @app.post(
        "/models/{name}/gallery",
        summary="Enrol a person; the response is sent after the gallery commit.",
        status_code=201,
        openapi_extra={
            "requestBody": describe_body(
                {
                    "name": {"type": "string", "minLength": 1, "maxLength": 256, "description": "The person's name."},
                    "replace": {"type": "boolean", "default": False, "description": "Replace the embeddings of a person already enrolled."},
                },
                required=["name", "images"],
                images=[("images", False)],
            )
        },
        responses=_ERROR_RESPONSES,
    )
    async def enrol(name: str, request: Request):
        model = find_model(name, ("embedder",), "gallery")
        gallery = find_gallery(model)
        fields = await read_fields(request)
        person = fields.text("name", required=True)
        try:
            check_person_name(person)
        except ServingError as error:
            raise from_serving_error(
                error, field="name", expected="a name without control characters or leading or trailing spaces"
            ) from error
        replace = fields.boolean("replace", False)
        batch = await read_images(fields, "images", model.wrapper.input_shape)
        embeddings = await run_batched(model, batch, "images")
        try:
            count, people = await gallery.call(_enrol, person, embeddings, replace)
        except ServingError as error:
            raise from_serving_error(error, field="name", expected="a name not enrolled yet, or replace=true") from error
        return JSONResponse({"name": person, "embeddings": count, "people": people}, status_code=201)

    @app.get("/models/{name}/gallery", summary="List the enrolled people.", responses=_ERROR_RESPONSES)
    async def list_gallery(name: str):
        model = find_model(name, ("embedder",), "gallery")
        gallery = find_gallery(model)
        counts = await gallery.call(lambda store: store.counts())
        people = [{"name": person, "embeddings": count} for person, count in counts.items()]
        return {"model": model.name, "count": len(people), "people": people}

    @app.delete("/models/{name}/gallery/{person}", summary="Remove a person from the gallery.", responses=_ERROR_RESPONSES)
    async def remove_person(name: str, person: str):
        model = find_model(name, ("embedder",), "gallery")
        gallery = find_gallery(model)
        removed, people = await gallery.call(_remove, person)
        if not removed:
            raise HTTPError(404, f"{person!r} is not enrolled in the gallery of {model.name!r}.", field="person")
        return {"removed": person, "people": people}

    @app.post(
        "/models/{name}/sample",
        summary="Decode latents drawn from N(0, I) with numpy's default generator.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "n": {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLES, "default": 16, "description": "Number of images."},
                    "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": 0, "description": "Seed of the latents."},
                    "psi": {
                        "type": "number",
                        "minimum": PSI_MIN,
                        "maximum": PSI_MAX,
                        "default": 1.0,
                        "description": "Truncation of a StyleGAN generator, w = w_avg + psi (w - w_avg): 1 keeps w, "
                        "0 gives w_avg, and values outside [0, 1] extrapolate. Other models accept only 1.",
                    },
                    "format": _FORMAT_FIELD,
                    "ncols": _NCOLS_FIELD,
                }
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def sample(name: str, request: Request):
        model = find_model(name, DECODERS, "sample")
        fields = await read_fields(request)
        n = fields.integer("n", 16, 1, MAX_SAMPLES)
        seed = fields.integer("seed", 0, 0, MAX_SEED)
        psi = fields.number("psi", 1.0, minimum=PSI_MIN, maximum=PSI_MAX)
        output_format = fields.choice("format", FORMATS, "png")
        ncols = fields.integer("ncols", 8, 1, MAX_SAMPLES)
        z = model.wrapper.sample_latents(n, seed)

        # The latents come from N(0, I), so a model failure at a psi other
        # than 1 names psi as the field at fault, and one at psi 1 names n.
        images = await run_batched(model, _generator_rows(model, z, psi), "psi" if psi != 1.0 else "n")
        return await render(images, output_format, ncols)

    @app.post(
        "/models/{name}/mix",
        summary="Style-mixing grid of a StyleGAN generator: coarse styles from each row source, fine from each column source.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "rows": {**_SOURCES_FIELD, "default": list(DEFAULT_MIX_ROWS), "description": "Row sources. " + _SOURCES_DESCRIPTION},
                    "columns": {**_SOURCES_FIELD, "default": list(DEFAULT_MIX_COLUMNS), "description": "Column sources. " + _SOURCES_DESCRIPTION},
                    "crossover": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "First synthesis layer styled by the column source, from 0 to num_ws. Default: num_ws // 2.",
                    },
                    "psi": {
                        "type": "number",
                        "minimum": PSI_MIN,
                        "maximum": PSI_MAX,
                        "default": 1.0,
                        "description": "Truncation of both sources, as in /sample.",
                    },
                    "format": _FORMAT_FIELD,
                }
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def mix(name: str, request: Request):
        model = find_model(name, DECODERS, "mix")
        generator = model.wrapper
        if not isinstance(generator, StyleGenerator) or not generator.can_mix:
            raise HTTPError(
                422,
                f"Model {name!r} cannot mix styles: /mix needs a StyleGAN generator served with "
                "mapping.onnx and synthesis.onnx beside its file.",
                field="name",
                expected="a StyleGAN generator with its mapping and synthesis parts",
            )
        fields = await read_fields(request)
        rows = fields.sources("rows", generator.latent_dim, DEFAULT_MIX_ROWS, max_rows=MAX_MIX_SOURCES)
        columns = fields.sources("columns", generator.latent_dim, DEFAULT_MIX_COLUMNS, max_rows=MAX_MIX_SOURCES)
        crossover = fields.integer("crossover", None, 0, generator.num_ws)
        psi = fields.number("psi", 1.0, minimum=PSI_MIN, maximum=PSI_MAX)
        output_format = fields.choice("format", FORMATS, "png")

        # A grid is at most MAX_MIX_SOURCES squared images from whole-grid
        # synthesis runs, so it runs in a worker thread, not the micro-batcher.
        def mixing_grid():
            try:
                return generator.mixing_grid(rows, columns, crossover=crossover, psi=psi)
            except ServingError as error:
                # The fields are checked above, so what remains is the model's
                # own failure, such as NaN or inf in its styles w.
                raise from_serving_error(error) from error

        tiles = await run_in_threadpool(mixing_grid)
        return await render(tiles, output_format, len(columns) + 1)

    @app.post(
        "/models/{name}/interpolate",
        summary="Decode a path of latents from z0 to z1.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "z0": _LATENT_FIELD,
                    "z1": _LATENT_FIELD,
                    "steps": {"type": "integer", "minimum": 2, "maximum": MAX_SAMPLES, "default": 8, "description": "Images along the path, ends included."},
                    "method": {"type": "string", "enum": ["linear", "slerp"], "default": "linear"},
                    "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": 0, "description": "Seed of the ends not given."},
                    "format": _FORMAT_FIELD,
                }
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def interpolate(name: str, request: Request):
        model = find_model(name, DECODERS, "interpolate")
        fields = await read_fields(request)
        latent_dim = model.wrapper.latent_dim
        z0 = fields.latents("z0", latent_dim, required=False, max_rows=1)
        z1 = fields.latents("z1", latent_dim, required=False, max_rows=1)
        steps = fields.integer("steps", 8, 2, MAX_SAMPLES)
        method = fields.choice("method", ("linear", "slerp"), "linear")
        seed = fields.integer("seed", 0, 0, MAX_SEED)
        output_format = fields.choice("format", FORMATS, "png")
        drawn = model.wrapper.sample_latents(2, seed)
        start = drawn[0] if z0 is None else z0[0]
        end = drawn[1] if z1 is None else z1[0]
        z = interpolate_latents(start, end, steps, method)
        if not np.isfinite(z).all():
            raise HTTPError(422, "z0 and z1 are too large to interpolate in float32.", field="z0")
        images = await run_batched(model, _generator_rows(model, z), "z0")
        return await render(images, output_format, steps)

    @app.post(
        "/models/{name}/decode",
        summary="Decode latents sent as JSON.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "z": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "number"}},
                        "minItems": 1,
                        "description": "Latents, shape (N, latent_dim).",
                    },
                    "format": _FORMAT_FIELD,
                    "ncols": _NCOLS_FIELD,
                },
                required=["z"],
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def decode(name: str, request: Request):
        model = find_model(name, DECODERS, "decode")
        fields = await read_fields(request)
        z = fields.latents("z", model.wrapper.latent_dim)
        output_format = fields.choice("format", FORMATS, "png")
        ncols = fields.integer("ncols", 8, 1, MAX_SAMPLES)
        images = await run_batched(model, _generator_rows(model, z), "z")
        return await render(images, output_format, ncols)

    @app.post(
        "/models/{name}/reconstruct",
        summary="Encode then decode images with an encoder and its decoder.",
        openapi_extra={
            "requestBody": describe_body(
                {
                    "decoder": {"type": "string", "description": "The decoder to pair with; default from --pair or the model names."},
                    "format": _FORMAT_FIELD,
                    "ncols": _NCOLS_FIELD,
                },
                required=["images"],
                images=[("images", False)],
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def reconstruct(name: str, request: Request):
        encoder = find_model(name, ("encoder",), "reconstruct")
        fields = await read_fields(request)
        decoder = _paired_decoder(registry, encoder, fields.text("decoder"))
        output_format = fields.choice("format", FORMATS, "png")
        ncols = fields.integer("ncols", 8, 1, MAX_SAMPLES)
        batch = await read_images(fields, "images", encoder.wrapper.input_shape)
        z = await run_batched(encoder, batch, "images")
        images = await run_batched(decoder, _generator_rows(decoder, z), "images")
        return await render(images, output_format, ncols)

    @app.post(
        "/models/{name}/translate",
        summary="Translate images with an image-to-image model.",
        openapi_extra={
            "requestBody": describe_body(
                {"format": _FORMAT_FIELD, "ncols": _NCOLS_FIELD},
                required=["images"],
                images=[("images", False)],
            )
        },
        responses=_IMAGE_RESPONSES,
    )
    async def translate(name: str, request: Request):
        model = find_model(name, ("translator",), "translate")
        fields = await read_fields(request)
        output_format = fields.choice("format", FORMATS, "png")
        ncols = fields.integer("ncols", 8, 1, MAX_SAMPLES)
        batch = await read_images(fields, "images", model.wrapper.input_shape)
        images = await run_batched(model, batch, "images")
        return await render(images, output_format, ncols)

    return app


def _png_bytes(image):
    """Encode one float (H, W, C) image in [0, 1] as PNG bytes."""
    Image = import_pillow()
    pixels = to_uint8(image)
    if pixels.shape[-1] == 1:
        pixels = pixels[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _generator_rows(model, z, psi=1.0):
    """Return the rows for a decoder's batcher: z, plus a psi column for a StyleGAN generator.

    Raises:
        HTTPError: psi other than 1 for a model without the truncation trick.
    """
    if isinstance(model.wrapper, StyleGenerator):
        column = np.full((len(z), 1), psi, dtype=np.float32)
        return np.concatenate([np.asarray(z, dtype=np.float32), column], axis=1)
    if psi != 1.0:
        raise HTTPError(
            422,
            f"Model {model.name!r} is not a StyleGAN generator, so it has no truncation trick. "
            f"Omit psi or send 1. Received: {psi!r}",
            field="psi",
            expected="1 for this model",
        )
    return z


def _threshold(model, fields):
    """Return (threshold, far) from the request, or the model's stored threshold for `far`."""
    threshold = fields.number("threshold", None, minimum=0.0)
    far = fields.number("far", 1e-2, minimum=0.0, maximum=1.0)
    if threshold is not None:
        return threshold, None
    return _stored_threshold(model, model.wrapper.thresholds(), "far", far), far


def _identify_threshold(model, fields):
    """Return (threshold, fpir, far) for identify, chosen by `Embedder.select_identify_threshold`.

    The request's threshold wins over fpir and far. The default is the
    open-set threshold for FPIR 1e-2, or the 1:1 threshold for FAR 1e-2 for
    models exported without open-set thresholds.
    """
    threshold = fields.number("threshold", None, minimum=0.0)
    fpir = fields.number("fpir", None, minimum=0.0, maximum=1.0)
    far = fields.number("far", None, minimum=0.0, maximum=1.0)
    try:
        chosen = model.wrapper.select_identify_threshold(threshold=threshold, fpir=fpir, far=far)
    except InvalidInputError as error:
        raise HTTPError(
            422,
            f"Send at most one of fpir and far. Received: fpir={fpir:g}, far={far:g}.",
            field="far",
            expected="no far field when fpir is sent",
        ) from error
    except InvalidModelError as error:
        # The serving error names the model's file on the server, so the 422
        # names the served model, the field at fault and the stored rates.
        if far is not None:
            raise _missing_threshold_error(model, model.wrapper.thresholds(), "far", far) from error
        if fpir is not None:
            raise _missing_threshold_error(model, model.wrapper.open_set_thresholds(), "fpir", fpir) from error
        raise HTTPError(
            422,
            f"Model {model.name!r} stores neither an open-set threshold for fpir=0.01 nor a 1:1 threshold "
            "for far=0.01, so identify has no default threshold. Send a threshold.",
            field="threshold",
            expected="a 'threshold' field",
        ) from error
    return chosen.value, chosen.fpir, chosen.far


def _stored_threshold(model, table, field, rate):
    """Return the threshold of `table` (rate -> threshold) for the request's `field`, or raise a 422."""
    value = lookup_threshold(table, rate)
    if value is None:
        raise _missing_threshold_error(model, table, field, rate)
    return value


def _missing_threshold_error(model, table, field, rate):
    """Return the 422 for a rate that `table` (rate -> threshold) has no threshold for."""
    expected = f"one of {sorted(table)}" if table else "a 'threshold' field, because the model stores none"
    return HTTPError(
        422,
        f"Model {model.name!r} has no threshold for {field}={rate:g}. Send {field} as {expected}, or send a threshold.",
        field=field,
        expected=expected,
    )


def _identify(gallery, embeddings, k, threshold):
    matches = gallery.search(embeddings, k=k)
    results = []
    for identification, nearest in zip(gallery.identify(embeddings, threshold=threshold), matches):
        results.append(
            {
                "name": identification.name,
                "nearest": identification.nearest,
                # JSON has no infinity, so an empty gallery gives null.
                "distance": identification.distance if nearest else None,
                "matches": [{"name": person, "distance": distance} for person, distance in nearest],
            }
        )
    return results


def _enrol(gallery, person, embeddings, replace):
    count = gallery.enrol(person, embeddings, replace=replace)
    return count, len(gallery)


def _remove(gallery, person):
    if person not in gallery:
        return False, len(gallery)
    gallery.remove(person)
    return True, len(gallery)


def _paired_decoder(registry, encoder, requested):
    """Return the decoder for `encoder`: the request's, else --pair, else by name, else the only one."""
    decoders = [model for model in registry.models if model.task in DECODERS]
    expected = f"one of {[model.name for model in decoders]}"
    if requested is not None:
        decoder = registry.get(requested)
        if decoder is None or decoder.task not in DECODERS:
            raise HTTPError(422, f"Field 'decoder' names {requested!r}, which is not a served decoder.", field="decoder", expected=expected)
    elif encoder.name in registry.pairs:
        decoder = registry.get(registry.pairs[encoder.name])
    else:
        by_name = registry.get(encoder.name.replace("encoder", "decoder"))
        matching = [model for model in decoders if model.wrapper.latent_dim == encoder.wrapper.latent_dim]
        if by_name is not None and by_name.task in DECODERS:
            decoder = by_name
        elif len(matching) == 1:
            decoder = matching[0]
        else:
            raise HTTPError(
                422,
                f"No decoder is paired with encoder {encoder.name!r}. Send the field 'decoder', "
                "or start the server with --pair ENCODER=DECODER.",
                field="decoder",
                expected=expected,
            )
    if decoder.wrapper.latent_dim != encoder.wrapper.latent_dim:
        raise HTTPError(
            422,
            f"Encoder {encoder.name!r} has latent_dim={encoder.wrapper.latent_dim} but decoder "
            f"{decoder.name!r} has latent_dim={decoder.wrapper.latent_dim}.",
            field="decoder",
            expected=f"a decoder with latent_dim={encoder.wrapper.latent_dim}",
        )
    return decoder


def _tensor_infos(infos):
    return [{"name": info.name, "shape": list(info.shape), "element_type": info.element_type} for info in infos.values()]


def _model_summary(model):
    return {"name": model.name, "aliases": model.aliases, "task": model.task, "file": model.path.name}


def _model_details(model):
    details = _model_summary(model)
    details.update(
        {
            "provider": model.onnx.provider,
            "metadata": model.onnx.metadata,
            "inputs": _tensor_infos(model.onnx.inputs),
            "outputs": _tensor_infos(model.onnx.outputs),
            "gallery": model.gallery is not None,
        }
    )
    return details
