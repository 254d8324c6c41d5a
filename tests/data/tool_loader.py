"""Import a script under tools/ (not a package) as a module, for tests of its functions."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(relative_path: str) -> ModuleType:
    """Load ``tools/<relative_path>``, e.g. ``'analysis_tools/gen_grid.py'``."""
    path = osp.join(REPO_ROOT, 'tools', relative_path)
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
