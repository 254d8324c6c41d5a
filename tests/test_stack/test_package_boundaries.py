"""The package graph of ``mmvisionllm`` is layered: every package imports alone, no import cycle.

The static check reads every ``import`` of every module (function-level imports included, relative
ones resolved), maps it to the top-level package of ``mmvisionllm`` it names and looks for cycles
in that graph (Tarjan's strongly connected components). ``registry`` and ``version`` are modules of
the root and sit below everything.
"""
import ast
import os
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Set

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE_DIR = osp.join(REPO_ROOT, 'mmvisionllm')
SUBPACKAGES = sorted(
    name for name in os.listdir(PACKAGE_DIR)
    if osp.isfile(osp.join(PACKAGE_DIR, name, '__init__.py')))


def _module_name(path: str) -> str:
    rel = osp.relpath(path, REPO_ROOT)[:-len('.py')].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _imported_modules(path: str) -> List[str]:
    """Absolute names of the ``mmvisionllm`` modules that ``path`` imports (anywhere in it)."""
    module = _module_name(path)
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    names = []
    for node in ast.walk(ast.parse(open(path).read(), filename=path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            # `from mmvisionllm import registry` names the module, not the package root
            names += [f'{target}.{alias.name}' for alias in node.names] \
                if target == 'mmvisionllm' else [target]
    return [name for name in names if name.startswith('mmvisionllm.')]


def package_graph() -> Dict[str, Set[str]]:
    """Top-level part of ``mmvisionllm`` → the other parts its modules import."""
    graph: Dict[str, Set[str]] = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for file in files:
            if not file.endswith('.py'):
                continue
            path = osp.join(folder, file)
            source = _module_name(path).split('.')
            if len(source) < 2:  # mmvisionllm/__init__.py
                continue
            edges = graph.setdefault(source[1], set())
            edges.update(
                name.split('.')[1] for name in _imported_modules(path)
                if name.split('.')[1] != source[1])
    return graph


def import_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_cycle_check_finds_a_known_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert import_cycles(graph) == [['a', 'b', 'c']]
    assert import_cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle_between_packages():
    graph = package_graph()
    assert set(SUBPACKAGES) <= set(graph), 'every subpackage has modules'
    assert import_cycles(graph) == [], {k: sorted(v) for k, v in graph.items()}
    # the layers of docs/en/architecture.md: the bottom imports nothing above it
    assert graph['utils'] <= {'registry'}, graph['utils']
    assert graph['structures'] <= {'registry'}, graph['structures']
    for lower in ('datasets', 'models', 'evaluation'):
        assert 'apis' not in graph[lower] and 'visualization' not in graph[lower], lower


def test_no_subpackage_is_an_empty_shell():
    for name in SUBPACKAGES:
        modules = [
            f for f in os.listdir(osp.join(PACKAGE_DIR, name))
            if f.endswith('.py') and f != '__init__.py'
            or osp.isfile(osp.join(PACKAGE_DIR, name, f, '__init__.py'))
        ]
        assert modules, f'mmvisionllm/{name}/ holds nothing but its __init__.py'


def _import_alone(package: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, '-c', f'import mmvisionllm.{package}'],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_every_package_imports_alone():
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(SUBPACKAGES, pool.map(_import_alone, SUBPACKAGES)))
    failed = {name: proc.stderr[-2000:] for name, proc in results.items() if proc.returncode}
    assert not failed, failed
