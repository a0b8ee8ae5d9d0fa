"""Helper functions by Linux id: one registry shared by the verifier and the engines."""

from .ids import FUNC_IDS, FUNC_NAMES
from .registry import REGISTRY, HelperSpec, helper_id, helper_name, register
from . import declared  # noqa: F401  (prototypes the verifier checks but the engines do not run)

__all__ = ["FUNC_IDS", "FUNC_NAMES", "REGISTRY", "HelperSpec", "helper_id", "helper_name", "register"]
