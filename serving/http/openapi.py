"""Generate the OpenAPI schema of the HTTP server, committed as `serving/openapi.json`.

Regenerate it after changing an endpoint:

    python -m serving.http.openapi
"""

import argparse
import json
import pathlib

from serving.http.app import create_app
from serving.runtime import atomic_write_bytes

OPENAPI_PATH = pathlib.Path(__file__).resolve().parents[1] / "openapi.json"


def openapi_schema():
    """Return the OpenAPI schema of the app, which does not depend on the models served."""
    return create_app(None).openapi()


def write_openapi(path=OPENAPI_PATH):
    """Write the OpenAPI schema as indented JSON with sorted keys to `path`."""
    text = json.dumps(openapi_schema(), indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def main():
    parser = argparse.ArgumentParser(description="Write the OpenAPI schema of the HTTP server.")
    parser.add_argument("--out", default=str(OPENAPI_PATH), help="Output JSON file. Default: serving/openapi.json.")
    arguments = parser.parse_args()
    write_openapi(arguments.out)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
