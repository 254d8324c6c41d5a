"""Install mmvisionllm.

The OpenMMLab stack needs ordered steps (see tools/misc/install_env.sh and the README);
``pip install -e .`` alone installs only this package and its plain-PyPI requirements.
"""
import os.path as osp
import re
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt`` without comments."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        return [ln.split('#', 1)[0].strip() for ln in f if ln.split('#', 1)[0].strip()]


def get_version() -> str:
    with open(osp.join(HERE, 'mmvisionllm', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


if __name__ == '__main__':
    setup(
        name='mmvisionllm',
        version=get_version(),
        description='VisionLLM v2 as a modular plugin framework on OpenMMLab',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'projects', 'docs')),
        include_package_data=True,
        python_requires='>=3.10',
        license='Apache License 2.0',
        install_requires=read_requirements('runtime'),
        extras_require=dict(
            tests=read_requirements('tests'),
            optional=read_requirements('optional'),
            mim=read_requirements('mminstall'),
        ),
        zip_safe=False)
