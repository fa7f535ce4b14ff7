"""The multi-backend training core: update phases and `PhaseModel`."""

from zoo.core.model import PhaseModel
from zoo.core.phases import PhaseOptimizer, UpdatePhase

__all__ = ["PhaseModel", "PhaseOptimizer", "UpdatePhase"]
