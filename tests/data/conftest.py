"""Fixtures for the lookup and download tests: isolated data places and an HTTP server on 127.0.0.1."""

import http.server
import threading

import pytest

from recipes.data import locate


@pytest.fixture
def isolated_places(tmp_path, monkeypatch):
    """Point every default place at an empty folder under tmp_path."""
    places = {name: tmp_path / name for name in ("env", "shared", "system", "home")}
    for folder in places.values():
        folder.mkdir()
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setenv("ZOO_HOME", str(places["home"]))
    monkeypatch.setattr(locate, "shared_data_dir", lambda: places["shared"])
    monkeypatch.setattr(locate, "SYSTEM_DATA_DIR", places["system"])
    return places


class _FileHandler(http.server.BaseHTTPRequestHandler):
    """Serve `server.files` (path -> bytes), cut short for `server.truncated` paths."""

    def do_GET(self):
        self.server.requests.append(self.path)
        content = self.server.files.get(self.path)
        if content is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.path in self.server.truncated:
            content = content[: len(content) // 2]
        self.wfile.write(content)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def file_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FileHandler)
    server.files = {}
    server.truncated = set()
    server.requests = []
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
