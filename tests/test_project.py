"""Project-wide rules: import directions, the registries, a fast CLI."""

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest
from click.testing import CliRunner

from recipes import RECIPES
from zoo.registry import MODELS

pytestmark = pytest.mark.backend_agnostic

ROOT = pathlib.Path(__file__).resolve().parents[1]
FRAMEWORKS = {"tensorflow", "jax", "jaxlib", "torch", "tf2onnx"}


def imported_roots(path):
    """Return the top-level package of every import statement in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(package):
    return sorted((ROOT / package).rglob("*.py"))


def test_zoo_imports_no_other_package():
    for path in python_files("zoo"):
        if "cli" in path.relative_to(ROOT / "zoo").parts:
            continue
        forbidden = imported_roots(path) & {"recipes", "export", "serving"}
        assert not forbidden, f"{path} imports {forbidden}"


def test_frameworks_only_in_backend_seam():
    for path in python_files("zoo") + python_files("recipes"):
        if path.parent.name == "backend" and path.parent.parent.name == "zoo":
            continue
        forbidden = imported_roots(path) & FRAMEWORKS
        assert not forbidden, f"{path} imports {forbidden}; only zoo/backend may"


def test_serving_imports_no_framework_or_zoo():
    for path in python_files("serving"):
        forbidden = imported_roots(path) & (FRAMEWORKS | {"keras", "zoo", "recipes", "export"})
        assert not forbidden, f"{path} imports {forbidden}"


def test_recipes_and_export_do_not_import_cli():
    for path in python_files("recipes") + python_files("export"):
        text = path.read_text()
        assert "zoo.cli" not in text, f"{path} imports the CLI"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registered_model_exists(name):
    module_name, attribute = MODELS[name][0].split(":")
    model_class = getattr(importlib.import_module(module_name), attribute)
    assert hasattr(model_class, "get_config")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_registered_recipe_exists(name):
    from recipes.base import Recipe

    module_name, attribute = RECIPES[name][0].split(":")
    recipe = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(recipe, Recipe)
    assert recipe.name == name


def test_every_model_has_a_test():
    test_text = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    for name, (target, _) in MODELS.items():
        class_name = target.split(":")[1]
        assert class_name in test_text.replace("test_project.py", ""), f"no test mentions {class_name} ({name})"


def test_zoo_list_shows_every_entry():
    from zoo.cli import main

    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    for name in list(MODELS) + list(RECIPES):
        assert name in result.output


def test_help_imports_no_keras():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from zoo.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'onnxruntime') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert output.stdout.strip() == ""


def test_help_lists_every_command():
    from zoo.cli import COMMANDS, main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_unknown_recipe_names_known_ones():
    from zoo.cli import main

    result = CliRunner().invoke(main, ["train", "no-such-recipe"])
    assert result.exit_code != 0
    assert "Unknown recipe 'no-such-recipe'" in result.output
