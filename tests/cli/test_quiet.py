"""`zoo -q` hides Keras's fit progress through `recipes.base.fit_verbosity`."""

import contextlib
import logging

import pytest
from click.testing import CliRunner

from recipes.base import fit_verbosity
from zoo.cli import main

pytestmark = pytest.mark.backend_agnostic


@contextlib.contextmanager
def bare_root_logger():
    """Give the root logger no handlers, as in a fresh `zoo` process, and restore it afterwards.

    pytest adds its capture handlers to the root logger when each test phase
    starts, so this runs inside the test body and not in a fixture.
    """
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = handlers
        # setLevel, unlike assigning `level`, also clears the loggers' level caches.
        root.setLevel(level)


def test_fit_verbosity_follows_level():
    root = logging.getLogger()
    recipes_logger = logging.getLogger("recipes")

    with bare_root_logger():
        root.addHandler(logging.NullHandler())
        root.setLevel(logging.INFO)
        assert fit_verbosity(1) == 1
        assert fit_verbosity(2) == 2

        root.setLevel(logging.WARNING)
        assert fit_verbosity(1) == 0
        assert fit_verbosity(2) == 0

        # A level on the `recipes` logger itself wins over the root level.
        recipes_logger.setLevel(logging.INFO)
        try:
            assert fit_verbosity(1) == 1
        finally:
            recipes_logger.setLevel(logging.NOTSET)


def test_fit_verbosity_without_logging_setup():
    # The root logger starts at WARNING, but with no handler nothing was
    # configured, so a recipe called from Python keeps its own choice.
    with bare_root_logger():
        logging.getLogger().setLevel(logging.WARNING)
        verbose = fit_verbosity(1)

    assert verbose == 1


@pytest.mark.parametrize(("options", "expected"), [([], 1), (["-q"], 0), (["-v"], 1)])
def test_cli_quiet_hides_fit_progress(options, expected):
    with bare_root_logger():
        result = CliRunner().invoke(main, [*options, "list"])
        verbose = fit_verbosity(1)

    assert result.exit_code == 0, result.output
    assert verbose == expected
