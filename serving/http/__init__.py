"""HTTP serving of exported models with FastAPI and uvicorn.

Needs the `serve` extra (`pip install beyond-zoo[serve]`). `import serving`
does not import this package, so the core serving layer runs with numpy
and onnxruntime alone.
"""

from serving.http.app import create_app
from serving.http.registry import ModelRegistry, resolve_model_paths
from serving.http.server import serve

__all__ = ["ModelRegistry", "create_app", "resolve_model_paths", "serve"]
