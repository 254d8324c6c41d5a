"""Compare our official-compatible VisionLLM v2 with the official reference outputs.

    python tools/analysis_tools/official_parity.py --reference /work/vlv2_ref/reference \
        [--parts core gdino ...] [--tolerance 1e-4]

Prints one table row per compared array: (array, max abs diff, note). The rows come from every
function named ``<part>_parity(reference_dir)`` in the modules of
:mod:`mmvisionllm.testing.official_parity` (``core`` here; each other part adds its own module
there), so a part joins the table without editing this tool. A part that raises is reported as a
row with its error and makes the exit status 1; rows above ``--tolerance`` are marked but do not
(GDINO/UniPose rows follow the reference's query-alignment rule and carry their own notes).
"""
import argparse
import importlib
import math
import pkgutil
import sys
import traceback
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmvisionllm.testing import official_parity
from mmvisionllm.testing.official_parity import REFERENCE_ENV, reference_dir

Row = Tuple[str, float, str]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--reference', help=f'reference folder (default ${REFERENCE_ENV})', default=None)
    parser.add_argument('--parts', nargs='+', help='only these parts (default: all found)')
    parser.add_argument(
        '--tolerance', type=float, default=1e-4, help='mark rows above this max abs diff')
    return parser.parse_args(argv)


def find_parity_functions() -> Dict[str, Callable[[str], List[Row]]]:
    """Part -> its ``<part>_parity`` function, from the modules of the parity package."""
    found = {}
    for info in pkgutil.iter_modules(official_parity.__path__):
        module = importlib.import_module(f'{official_parity.__name__}.{info.name}')
        for name in dir(module):
            if name.endswith('_parity') and callable(getattr(module, name)):
                found[name[:-len('_parity')]] = getattr(module, name)
    return found


def format_table(rows: Sequence[Tuple[str, str, float, str]], tolerance: float) -> str:
    """The rows (part, array, diff, note) as a fixed-width table."""
    width = max([len(r[1]) for r in rows] + [5])
    lines = [f'{"part":<15} {"array":<{width}} {"max abs diff":>12}  note', '-' * (width + 45)]
    for part, name, diff, note in rows:
        flag = '' if (not math.isnan(diff) and diff <= tolerance) else '  [> tolerance]'
        lines.append(f'{part:<15} {name:<{width}} {diff:>12.3e}  {note}{flag}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    folder = reference_dir(args.reference)
    if folder is None:
        print(
            f'no reference folder (--reference or ${REFERENCE_ENV}) with model.safetensors, '
            'config.json, inputs.npz and outputs.npz',
            file=sys.stderr)
        return 2
    functions = find_parity_functions()
    parts = args.parts or sorted(functions, key=lambda p: (p != 'core', p))
    rows, failed = [], False
    for part in parts:
        if part not in functions:
            rows.append((part, '(no parity function)', float('nan'),
                         f'no {part}_parity in {official_parity.__name__}'))
            continue
        try:
            found = functions[part](folder)
            rows += [(part, name, float(diff), note) for name, diff, note in found]
        except Exception as error:  # report the part and go on with the others
            failed = True
            traceback.print_exc()
            rows.append((part, '(error)', float('nan'), f'{type(error).__name__}: {error}'))
    print(format_table(rows, args.tolerance))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
