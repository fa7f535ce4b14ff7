"""`Embedder.select_identify_threshold`, the threshold choice shared by `zoo identify` and HTTP /identify."""

import pytest

from serving import Embedder, IdentifyThreshold
from serving.errors import InvalidInputError, InvalidModelError
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def open_set(open_set_embedder_path):
    return Embedder(open_set_embedder_path, providers=CPU)


@pytest.fixture(scope="module")
def verification_only(embedder_path):
    return Embedder(embedder_path, providers=CPU)


# (threshold, fpir, far) -> the expected IdentifyThreshold on the model with both kinds of threshold.
CHOICES = [
    ((None, None, None), IdentifyThreshold(tiny_models.THRESHOLD_FPIR_1E2, fpir=1e-2)),
    ((None, 1e-2, None), IdentifyThreshold(tiny_models.THRESHOLD_FPIR_1E2, fpir=1e-2)),
    ((None, None, 1e-2), IdentifyThreshold(tiny_models.THRESHOLD_FAR_1E2, far=1e-2)),
    ((None, None, 1e-3), IdentifyThreshold(tiny_models.THRESHOLD_FAR_1E3, far=1e-3)),
    ((0.25, None, None), IdentifyThreshold(0.25)),
    # A given threshold wins over both rates, even over a pair that conflicts.
    ((0.25, 1e-2, 1e-2), IdentifyThreshold(0.25)),
    ((0.0, 1e-2, None), IdentifyThreshold(0.0)),
]


@pytest.mark.parametrize(("request_values", "expected"), CHOICES)
def test_select_identify_threshold(open_set, request_values, expected):
    threshold, fpir, far = request_values

    chosen = open_set.select_identify_threshold(threshold=threshold, fpir=fpir, far=far)

    assert chosen.value == pytest.approx(expected.value)
    assert chosen.fpir == expected.fpir
    assert chosen.far == expected.far


def test_select_default_falls_back_to_far(verification_only):
    chosen = verification_only.select_identify_threshold()

    assert chosen.value == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert chosen.far == 1e-2
    assert chosen.fpir is None


def test_select_rejects_both_rates(open_set):
    with pytest.raises(InvalidInputError, match="at most one of fpir and far.*fpir=0.01, far=0.001"):
        open_set.select_identify_threshold(fpir=1e-2, far=1e-3)


def test_select_unknown_rate(open_set, verification_only):
    with pytest.raises(InvalidModelError, match="no open-set threshold for FPIR 0.001"):
        open_set.select_identify_threshold(fpir=1e-3)
    with pytest.raises(InvalidModelError, match="no threshold for FAR 0.1"):
        open_set.select_identify_threshold(far=0.1)
    with pytest.raises(InvalidModelError, match="no open-set threshold for FPIR 0.01"):
        verification_only.select_identify_threshold(fpir=1e-2)
