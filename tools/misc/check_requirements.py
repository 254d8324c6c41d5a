"""Check that every requirement in the given pip requirement files is installed.

Used by ``tools/misc/install_env.sh`` to skip pip calls whose requirements are already met, which is
what makes a second ``make install`` fast. Prints each unmet requirement and exits with 1 if there
is any.
"""
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare venv: pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement


def unmet_requirements(path: str) -> list:
    """Return the lines of a requirements file that the environment does not satisfy."""
    unmet = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line or line.startswith('-'):
                continue
            req = Requirement(line)
            try:
                version = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                unmet.append(f'{line} (not installed)')
                continue
            if not req.specifier.contains(version, prereleases=True):
                unmet.append(f'{line} (installed {version})')
    return unmet


def main() -> int:
    unmet = [f'{path}: {item}' for path in sys.argv[1:] for item in unmet_requirements(path)]
    for item in unmet:
        print('unmet requirement:', item)
    return 1 if unmet else 0


if __name__ == '__main__':
    sys.exit(main())
