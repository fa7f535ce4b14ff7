"""Run the HTTP server with uvicorn; `zoo serve` calls `serve`."""

import logging

from serving.errors import InvalidInputError
from serving.http.app import create_app
from serving.http.registry import ModelRegistry, resolve_model_paths

logger = logging.getLogger(__name__)

def parse_assignments(values, option):
    """Parse `KEY=VALUE` option values into a dict; a value without `=` gets the key None.

    Raises:
        InvalidInputError: a key or value is empty, or a key repeats.
    """
    result = {}
    for value in values:
        key, separator, target = value.partition("=")
        if not separator:
            key, target = None, value
        if key == "" or not target:
            raise InvalidInputError(f"{option} must be FILE or NAME=FILE. Received: {value!r}")
        if key in result:
            raise InvalidInputError(f"{option} is given twice for {key or 'the only embedder'}: {value!r}")
        result[key] = target
    return result


def serve(
    models,
    host="127.0.0.1",
    port=8080,
    galleries=(),
    pairs=(),
    max_batch=32,
    max_wait_ms=5.0,
    max_upload_mb=10.0,
    providers=None,
    log_level="info",
):
    """Load the models and serve them until interrupted.

    Args:
        models: MODEL arguments, resolved by `resolve_model_paths`.
        host: the address to listen on.
        port: the TCP port to listen on.
        galleries: `FILE` (for the only embedder) or `MODEL=FILE` strings.
        pairs: `ENCODER=DECODER` strings for `reconstruct`.
        max_batch: the maximum rows per grouped onnxruntime call.
        max_wait_ms: how long a group waits for more requests, in milliseconds.
        max_upload_mb: the largest request body, in MiB.
        providers: onnxruntime execution providers. Default: CUDA when usable.
        log_level: uvicorn's log level.
    """
    import uvicorn

    if max_upload_mb <= 0:
        raise InvalidInputError(f"--max-upload-mb must be positive. Received: {max_upload_mb}")
    pair_table = parse_assignments(pairs, "--pair")
    if None in pair_table:
        raise InvalidInputError(f"--pair must be ENCODER=DECODER. Received: {pair_table[None]!r}")

    registry = ModelRegistry.load(
        resolve_model_paths(models),
        galleries=parse_assignments(galleries, "--gallery"),
        pairs=pair_table,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        providers=providers,
    )
    try:
        app = create_app(registry, max_upload_bytes=int(max_upload_mb * 1024 * 1024))
        logger.info("Listening on http://%s:%d", host, port)
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        registry.close()
        logger.info("Server stopped.")
