"""Fixtures: a tiny ONNX artifact, its manifest and an HTTP server on 127.0.0.1."""

import hashlib
import http.server
import json
import re
import shutil
import threading

import pytest

from tests.serving import tiny_models

ARTIFACT = "tiny-embedder"
FILE_PATH = f"{ARTIFACT}/model.onnx"
# Stands in for a quantized copy: pull checks only its bytes against the manifest.
INT8_PATH = f"{ARTIFACT}/model.int8.onnx"


class ArtifactHandler(http.server.BaseHTTPRequestHandler):
    """Serve files of `server.root` with Range support and injectable faults.

    `server.mode` selects the fault: "normal"; "short" (the file minus its
    last 10 bytes, with an honest Content-Length); "corrupt" (same size, one
    byte flipped); "drop_once" (the first response stops halfway); "cut"
    (every response stops after 100 bytes). Each request's path and Range
    header are appended to `server.requests`.
    """

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        file = server.root / self.path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        if server.mode == "short":
            data = data[:-10]
        elif server.mode == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])

        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

        if server.mode == "cut" or (server.mode == "drop_once" and len(server.requests) == 1):
            limit = 100 if server.mode == "cut" else len(body) // 2
            self.wfile.write(body[:limit])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def artifact_root(tmp_path):
    """A folder laid out like a mirror: <root>/tiny-embedder/model.onnx."""
    root = tmp_path / "mirror"
    (root / ARTIFACT).mkdir(parents=True)
    tiny_models.build_embedder(root / FILE_PATH)
    return root


def _file_entry(root, relative, quantize):
    data = (root / relative).read_bytes()
    return {"path": relative, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "quantize": quantize}


def write_manifest(path, root, url, int8=False):
    """Write a manifest of the tiny embedder; with `int8`, also list a copy as its int8 variant."""
    files = [_file_entry(root, FILE_PATH, None)]
    if int8:
        shutil.copyfile(root / FILE_PATH, root / INT8_PATH)
        files.append(_file_entry(root, INT8_PATH, "int8"))
    manifest = {
        "schema_version": 1,
        "artifacts": [
            {
                "name": ARTIFACT,
                "task": "embedder",
                "description": "An 8x8 linear embedder for tests.",
                "files": files,
                "inputs": [{"name": "images", "shape": [None, 8, 8, 1], "dtype": "float32"}],
                "outputs": [{"name": "embeddings", "shape": [None, 6], "dtype": "float32"}],
                "metrics": {"verification": {"roc_auc": 0.5}},
                "license": "apache-2.0",
                "model_card": f"model_cards/{ARTIFACT}.md",
                "url": url,
            }
        ],
    }
    path.write_text(json.dumps(manifest, indent=2))
    return path


@pytest.fixture
def server(artifact_root):
    """A threaded HTTP server on 127.0.0.1 serving `artifact_root`; stopped after the test."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArtifactHandler)
    httpd.root = artifact_root
    httpd.mode = "normal"
    httpd.requests = []
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http_manifest(tmp_path, artifact_root, server):
    return write_manifest(tmp_path / "manifest.json", artifact_root, server.url)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def file_manifest(tmp_path, artifact_root):
    """A manifest beside no server: files come from `artifact_root` through its url."""
    return write_manifest(tmp_path / "manifest.json", artifact_root, str(artifact_root))


@pytest.fixture
def int8_manifest(tmp_path, artifact_root, server):
    """A manifest served over HTTP whose artifact has a float32 and an int8 variant."""
    return write_manifest(tmp_path / "manifest.json", artifact_root, server.url, int8=True)
