"""Floor 1: the plugin registry, the Classifier and Bundle contracts, built-in model plugins."""

from plugins.errors import RobustuneError
from plugins.registry import Registrar, Registry, registry

__all__ = ["RobustuneError", "Registrar", "Registry", "registry"]
