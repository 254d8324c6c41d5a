"""Check that every requirement in the given pip requirement files is installed.

    python tools/misc/check_requirements.py requirements/runtime.txt [more.txt ...]

Used by ``tools/misc/install_env.sh`` to skip pip calls whose requirements are already met, which is
what makes a second ``make install`` fast. Prints each unmet requirement and exits with 1 if there
is any.

What the files may hold, as pip reads them: requirement lines (with environment markers, which
are evaluated: a requirement for another platform or Python is not asked for), ``-r`` / ``--
requirement FILE`` (checked too, relative to the including file), ``-c`` / ``--constraint FILE``
(its pins are checked only for the packages that are installed: a constraint does not ask for a
package) and pip's index/build options (``--index-url``, ``--find-links``, ``--pre`` ..., which
are no requirements). Editable (``-e``) lines and malformed lines are errors naming the file and
line, since they cannot be checked by name.
"""
import argparse
import os.path as osp
import sys
from importlib import metadata
from typing import List

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # a bare venv: pip vendors packaging
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

INCLUDE_OPTIONS = ('-r', '--requirement')
CONSTRAINT_OPTIONS = ('-c', '--constraint')
EDITABLE_OPTIONS = ('-e', '--editable')


def _option_argument(line: str, option: str) -> str:
    """The argument of ``-r FILE`` / ``--requirement=FILE`` style lines."""
    rest = line[len(option):]
    return rest.lstrip('= ').strip()


def unmet_requirements(path: str, constraints_only: bool = False) -> List[str]:
    """Return the requirements of a requirements file that the environment does not satisfy.

    Args:
        path (str): The requirements file.
        constraints_only (bool): Read the file as constraints: only installed packages are checked.

    Returns:
        list[str]: ``'<path>: <line> (why)'`` for each unmet requirement.
    """
    unmet = []
    with open(path) as f:
        lines = f.readlines()
    for lineno, raw in enumerate(lines, start=1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        if line.startswith('-'):
            option = line.split()[0].split('=')[0]
            if option in INCLUDE_OPTIONS + CONSTRAINT_OPTIONS:
                included = osp.join(osp.dirname(path), _option_argument(line, option))
                unmet += unmet_requirements(included, constraints_only
                                            or option in CONSTRAINT_OPTIONS)
            elif option in EDITABLE_OPTIONS:
                raise ValueError(f'{path}:{lineno}: editable requirement {line!r} cannot be '
                                 'checked by name')
            continue  # index / build options of pip: no requirement
        try:
            req = Requirement(line)
        except InvalidRequirement as error:
            raise ValueError(f'{path}:{lineno}: {line!r} is not a requirement: {error}') from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            if not constraints_only:
                unmet.append(f'{path}: {line} (not installed)')
            continue
        if not req.specifier.contains(version, prereleases=True):
            unmet.append(f'{path}: {line} (installed {version})')
    return unmet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('files', nargs='+', help='pip requirements files')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    unmet = [item for path in args.files for item in unmet_requirements(path)]
    for item in unmet:
        print('unmet requirement:', item)
    return 1 if unmet else 0


if __name__ == '__main__':
    sys.exit(main())
