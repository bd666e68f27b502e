"""``experiments/<name>.py`` as modules for the tests (the scripts are not a package)."""

import importlib.util
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_script(script: str):
    """``experiments/<script>.py`` as a module, loaded once per test session."""
    name = f"experiment_{script}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{script}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]
