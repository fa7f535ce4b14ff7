"""Bad requests get a 4xx JSON error that names the field; none gets a 5xx."""

import base64

import numpy as np
import pytest

from tests.http.conftest import pgm_bytes, png_bytes, random_pixels

pytestmark = pytest.mark.backend_agnostic

PNG = base64.b64encode(png_bytes(random_pixels(0)[0])).decode("ascii")
LATENT = [0.1, 0.2, 0.3, 0.4]

# (method, path, request keyword arguments, status, field)
CASES = [
    ("get", "/models/absent", {}, 404, "name"),
    ("post", "/models/absent/embed", {"json": {"images": [PNG]}}, 404, "name"),
    ("post", "/models/decoder/embed", {"json": {"images": [PNG]}}, 422, "name"),
    ("post", "/models/embedder/sample", {"json": {}}, 422, "name"),
    ("post", "/models/embedder/embed", {"files": [("images", ("x.png", b"not an image"))]}, 400, "images[0]"),
    ("post", "/models/embedder/embed", {"files": [("images", ("x.pgm", pgm_bytes(random_pixels(0)[0])[:-5]))]}, 400, "images[0]"),
    ("post", "/models/embedder/embed", {"json": {"images": ["%%% not base64"]}}, 400, "images[0]"),
    ("post", "/models/embedder/embed", {"json": {"images": [42]}}, 422, "images[0]"),
    ("post", "/models/embedder/embed", {"json": {}}, 422, "images"),
    ("post", "/models/embedder/embed", {"content": b"images=1", "headers": {"content-type": "text/plain"}}, 415, "Content-Type"),
    ("post", "/models/embedder/embed", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "body"),
    ("post", "/models/embedder/embed", {"json": [PNG]}, 422, "body"),
    ("post", "/models/embedder/embed", {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400, "body"),
    # A body cut after its first part must not run with the default n.
    ("post", "/models/decoder/sample", {"content": b'--x\r\nContent-Disposition: form-data; name="seed"\r\n\r\n3\r\n--x\r\nContent-Disp', "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400, "body"),
    # "--x--" closes the body only at its start or after a CRLF, but here it ends a cut value.
    ("post", "/models/decoder/sample", {"content": b'--x\r\nContent-Disposition: form-data; name="n"\r\n\r\n2--x--', "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400, "body"),
    ("post", "/models/embedder/embed", {"json": {"images": [PNG] * 400}}, 413, "body"),
    ("post", "/models/embedder/embed", {"content": b"{}", "headers": {"content-type": "application/json", "content-length": "999999999"}}, 413, "body"),
    ("post", "/models/embedder/verify", {"json": {"image_a": PNG}}, 422, "image_b"),
    ("post", "/models/embedder/verify", {"json": {"image_a": PNG, "image_b": PNG, "far": 0.5}}, 422, "far"),
    ("post", "/models/embedder/verify", {"json": {"image_a": PNG, "image_b": PNG, "threshold": -1}}, 422, "threshold"),
    ("post", "/models/embedder/identify", {"json": {"images": [PNG], "k": 0}}, 422, "k"),
    ("post", "/models/embedder/identify", {"json": {"images": [PNG], "far": 0.5}}, 422, "far"),
    # The tiny embedder stores no open-set threshold.
    ("post", "/models/embedder/identify", {"json": {"images": [PNG], "fpir": 0.01}}, 422, "fpir"),
    ("post", "/models/embedder/identify", {"json": {"images": [PNG], "fpir": 0.01, "far": 0.01}}, 422, "far"),
    ("post", "/models/embedder/gallery", {"json": {"images": [PNG]}}, 422, "name"),
    ("post", "/models/embedder/gallery", {"json": {"name": " padded ", "images": [PNG]}}, 422, "name"),
    ("post", "/models/embedder/gallery", {"json": {"name": "x", "images": [PNG], "replace": "maybe"}}, 422, "replace"),
    ("delete", "/models/embedder/gallery/nobody", {}, 404, "person"),
    ("post", "/models/decoder/decode", {"content": b'{"z": [[NaN, 0, 0, 0]]}', "headers": {"content-type": "application/json"}}, 422, "z"),
    ("post", "/models/decoder/decode", {"json": {"z": [[0.1, 0.2, 0.3]]}}, 422, "z"),
    ("post", "/models/decoder/decode", {"json": {"z": [[0.1, 0.2], [0.3]]}}, 422, "z"),
    ("post", "/models/decoder/decode", {"json": {"z": [["a", 1, 2, 3]]}}, 422, "z"),
    ("post", "/models/decoder/decode", {"json": {"z": [[1e39, 0, 0, 0]]}}, 422, "z"),
    ("post", "/models/decoder/decode", {"json": {"z": [LATENT], "format": "gif"}}, 422, "format"),
    ("post", "/models/decoder/sample", {"json": {"n": 0}}, 422, "n"),
    ("post", "/models/decoder/sample", {"json": {"n": 10_000}}, 422, "n"),
    ("post", "/models/decoder/sample", {"json": {"seed": -1}}, 422, "seed"),
    ("post", "/models/decoder/sample", {"json": {"n": True}}, 422, "n"),
    ("post", "/models/decoder/interpolate", {"json": {"steps": 1}}, 422, "steps"),
    ("post", "/models/decoder/interpolate", {"json": {"z0": [LATENT, LATENT]}}, 422, "z0"),
    ("post", "/models/decoder/interpolate", {"json": {"method": "cubic"}}, 422, "method"),
    ("post", "/models/encoder/reconstruct", {"json": {"images": [PNG], "decoder": "embedder"}}, 422, "decoder"),
    ("post", "/models/translator/translate", {"data": {"format": "json"}}, 415, "Content-Type"),
    # A misspelt field fails rather than falling back to the default.
    ("post", "/models/translator/translate", {"files": [("image", ("x.png", b"x"))]}, 422, "image"),
    ("post", "/models/embedder/verify", {"json": {"image_a": PNG, "image_b": PNG, "treshold": 0.5}}, 422, "treshold"),
    ("post", "/models/decoder/sample?n=3", {"json": {}}, 422, "n"),
    ("post", "/models/decoder/sample", {"files": [("n", (None, "2")), ("sed", (None, "3"))]}, 422, "sed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field"), CASES, ids=[f"{c[1]}-{c[3]}-{c[4]}" for c in CASES])
def test_bad_request_gets_json_4xx(shared_client, method, path, kwargs, status, field):
    response = getattr(shared_client, method)(path, **kwargs)

    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field
    assert body["error"]
    assert body["detail"]


def test_unknown_route_is_json_404(shared_client):
    response = shared_client.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_wrong_method_is_json_405(shared_client):
    response = shared_client.put("/models/embedder/embed")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_black_image_is_422_not_500(shared_client):
    # The tiny embedder maps an all-zero image to a zero vector, which cannot be L2-normalised.
    black = np.zeros((8, 8, 1), dtype=np.uint8)
    response = shared_client.post("/models/embedder/embed", files=[("images", ("black.png", png_bytes(black)))])

    assert response.status_code == 422
    assert response.json()["field"] == "images"


def test_huge_png_dimensions_are_413(shared_client):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buffer, format="PNG", optimize=True)
    response = shared_client.post("/models/embedder/embed", files=[("images", ("big.png", buffer.getvalue()))])

    assert response.status_code == 413
    assert response.json()["field"] == "images[0]"


def test_nan_psi_message(shared_client):
    response = shared_client.post(
        "/models/decoder/sample", content=b'{"psi": NaN}', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "Field 'psi' must be a finite number from -1 to 2. Received: nan (a number)."


def test_nan_string_quoted_with_type(shared_client):
    response = shared_client.post("/models/embedder/verify", json={"image_a": PNG, "image_b": PNG, "far": "nan"})

    assert response.status_code == 422
    assert response.json()["detail"] == "Field 'far' must be a finite number from 0 to 1. Received: 'nan' (a string)."


def test_wrong_task_names_endpoints(shared_client):
    response = shared_client.post("/models/decoder/embed", json={"images": [PNG]})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "Model 'decoder' is a decoder; it serves /decode, /sample, /interpolate." in detail
    assert "/embed needs a model with zoo_task in ['embedder']" in detail


def test_plain_generator_does_not_offer_mix(shared_client):
    response = shared_client.post("/models/generator/embed", json={"images": [PNG]})

    assert response.status_code == 422
    assert "Model 'generator' is a generator; it serves /decode, /sample, /interpolate." in response.json()["detail"]


def test_enrol_control_character_name(shared_client):
    response = shared_client.post("/models/embedder/gallery", json={"name": "bob\x00", "images": [PNG]})

    assert response.status_code == 422
    body = response.json()
    assert "control characters" in body["detail"]
    assert "control characters" in body["expected"]


def test_unreadable_upload_message(shared_client):
    response = shared_client.post("/models/embedder/embed", files=[("images", ("x.png", b"not an image"))])

    detail = response.json()["detail"]
    assert response.status_code == 400
    assert "BytesIO" not in detail
    assert "not a readable image (expected PNG, JPEG or PGM; received 12 bytes starting with b'not an i')" in detail


def multipart_image_body(boundary):
    """Return one `images` file part with its close delimiter, ending in CRLF."""
    return (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png_bytes(random_pixels(0)[0]) + b"\r\n--" + boundary + b"--\r\n"
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # RFC 2046 allows an epilogue after the close delimiter, and the parser ignores it.
        ("multipart/form-data; boundary=x", multipart_image_body(b"x") + b"An epilogue.\r\n"),
        ('multipart/form-data; boundary="a\\"b"', multipart_image_body(b'a"b')),
        ("multipart/form-data; BOUNDARY=x", multipart_image_body(b"x")),
    ],
    ids=["epilogue", "escaped-quote", "upper-case-parameter"],
)
def test_complete_multipart_variants_accepted(shared_client, content_type, body):
    response = shared_client.post("/models/embedder/embed", content=body, headers={"content-type": content_type})

    assert response.status_code == 200, response.text
    assert len(response.json()["embeddings"]) == 1


def test_unknown_field_message_quotes_names(shared_client):
    response = shared_client.post("/models/decoder/sample", files=[("n", (None, "2")), ("", (None, "3"))])

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Unknown field ''; this endpoint takes format, n, ncols, psi, seed.")
