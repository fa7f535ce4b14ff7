"""JSON errors of the HTTP server, and the mapping from serving errors to status codes.

Every error response has the body
`{"error": CODE, "detail": MESSAGE, "field": FIELD, "expected": EXPECTED}`,
where `field` names the request field at fault (or None) and `expected`
describes a valid value (or None).
"""

import logging
import sqlite3

from serving.errors import (
    CorruptFileError,
    GalleryError,
    InvalidInputError,
    InvalidModelError,
    MissingDependencyError,
    ModelNotFoundError,
)

logger = logging.getLogger(__name__)

# Short error codes per status, so that clients can branch without parsing messages.
ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_value",
    500: "internal_error",
    503: "unavailable",
}

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Short error code, for example invalid_value."},
        "detail": {"type": "string", "description": "What failed and what to do."},
        "field": {"type": ["string", "null"], "description": "The request field at fault."},
        "expected": {"type": ["string", "null"], "description": "What a valid value looks like."},
    },
}


class HTTPError(Exception):
    """An error returned to the client as a JSON body with `status`.

    Args:
        status: the HTTP status code.
        detail: what failed and what to do, as a sentence.
        field: the request field at fault, for example `"images[1]"`.
        expected: what a valid value of `field` looks like.
    """

    def __init__(self, status, detail, field=None, expected=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.expected = expected

    def body(self):
        """Return the JSON body of this error."""
        return {
            "error": ERROR_CODES.get(self.status, "error"),
            "detail": self.detail,
            "field": self.field,
            "expected": self.expected,
        }


def from_serving_error(error, field=None, expected=None):
    """Convert an error raised by the serving layer into an `HTTPError`.

    Args:
        error: a `ServingError` raised while handling a request.
        field: the request field whose value caused it, where known.
        expected: what a valid value of that field looks like.

    Returns:
        An `HTTPError` with a 4xx status for errors that the request's
        values cause, and 5xx for failures of the server itself.
    """
    if isinstance(error, GalleryError):
        if isinstance(error.__cause__, sqlite3.Error):
            logger.error("Gallery write failed: %s", error)
            return HTTPError(503, str(error))
        return HTTPError(409, str(error), field=field, expected=expected)
    if isinstance(error, InvalidInputError):
        return HTTPError(422, str(error), field=field, expected=expected)
    if isinstance(error, InvalidModelError):
        # Raised after inference when the output is degenerate for this input
        # (for example an all-zero embedding that cannot be L2-normalised).
        logger.warning("Model output rejected for field %s: %s", field, error)
        return HTTPError(
            422,
            f"The model could not process this input: {error}",
            field=field,
            expected=expected,
        )
    if isinstance(error, ModelNotFoundError):
        return HTTPError(404, str(error), field=field)
    if isinstance(error, (CorruptFileError, MissingDependencyError)):
        logger.error("Server-side serving error: %s", error)
        return HTTPError(500, str(error))
    logger.error("Unexpected serving error: %s", error)
    return HTTPError(500, str(error))
