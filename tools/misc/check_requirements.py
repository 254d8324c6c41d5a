"""Check that every requirement in the given pip requirement files is installed.

    python tools/misc/check_requirements.py requirements/runtime.txt [more.txt ...]

Used by ``tools/misc/install_env.sh`` to skip pip calls whose requirements are already met, which is
what makes a second ``make install`` fast. Prints each unmet requirement and exits with 1 if there
is any.

What the files may hold: requirement lines (environment markers are evaluated: a requirement for
another platform or Python is not asked for), ``-r`` / ``--requirement FILE`` (checked too,
relative to the including file), ``-c`` / ``--constraint FILE`` (its pins are checked only for
the packages that are installed: a constraint does not ask for a package) and pip's index/build
options (``--index-url``, ``--find-links``, ``--pre`` ..., which are no requirements). Anything
else (editable ``-e`` lines, per-requirement options such as ``--hash``, line continuations,
unknown options, include cycles, malformed lines) is an error naming the file and line, since it
cannot be checked by name.
"""
import argparse
import os.path as osp
import sys
from importlib import metadata
from typing import List, Tuple

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # a bare venv: pip vendors packaging
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

INCLUDE_OPTIONS = ('-r', '--requirement')
CONSTRAINT_OPTIONS = ('-c', '--constraint')
#: pip options of a requirements file that ask for no package
PIP_OPTIONS = ('-i', '--index-url', '--extra-index-url', '--no-index', '-f', '--find-links',
               '--pre', '--trusted-host', '--prefer-binary', '--only-binary', '--no-binary',
               '--use-feature', '--require-hashes', '--config-settings')


def _split_option(line: str) -> Tuple[str, str]:
    """``(option, argument)`` of an option line: ``-r f``, ``-rf``, ``--requirement=f`` ..."""
    if line.startswith('--'):
        option, _, argument = line.replace('=', ' ', 1).partition(' ')
    else:  # short options may carry their argument attached: -rfile.txt
        option, argument = line[:2], line[2:]
    return option, argument.strip()


def unmet_requirements(path: str,
                       constraints_only: bool = False,
                       visiting: Tuple[str, ...] = ()) -> List[str]:
    """Return the requirements of a requirements file that the environment does not satisfy.

    Args:
        path (str): The requirements file.
        constraints_only (bool): Read the file as constraints: only installed packages are checked.
        visiting (tuple[str]): The files that include this one (to refuse include cycles).

    Returns:
        list[str]: ``'<path>: <line> (why)'`` for each unmet requirement.
    """
    unmet = []
    with open(path) as f:
        lines = f.readlines()
    visiting = visiting + (osp.realpath(path), )
    for lineno, raw in enumerate(lines, start=1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        where = f'{path}:{lineno}'
        if line.endswith('\\'):
            raise ValueError(f'{where}: line continuations are not supported')
        if line.startswith('-'):
            option, argument = _split_option(line)
            if option in INCLUDE_OPTIONS + CONSTRAINT_OPTIONS:
                included = osp.join(osp.dirname(path), argument)
                if osp.realpath(included) in visiting:
                    raise ValueError(f'{where}: {included} includes itself')
                if not osp.isfile(included):
                    raise ValueError(f'{where}: {included} not found')
                unmet += unmet_requirements(included, constraints_only
                                            or option in CONSTRAINT_OPTIONS, visiting)
            elif option not in PIP_OPTIONS:
                raise ValueError(f'{where}: {line!r} cannot be checked by name (editable and '
                                 'unknown options are not supported)')
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as error:
            raise ValueError(f'{where}: {line!r} is not a requirement: {error}') from None
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
    """Command-line arguments: one or more requirements files."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('files', nargs='+', help='pip requirements files')
    return parser.parse_args()


def main() -> int:
    """Print the unmet requirements; 1 if there is any, 2 if a file cannot be read."""
    args = parse_args()
    try:
        unmet = [item for path in args.files for item in unmet_requirements(path)]
    except (OSError, ValueError) as error:
        print(f'check_requirements: {error}', file=sys.stderr)
        return 2
    for item in unmet:
        print('unmet requirement:', item)
    return 1 if unmet else 0


if __name__ == '__main__':
    sys.exit(main())
