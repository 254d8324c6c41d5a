"""Checks for local checkpoint paths.

Every ``from_pretrained`` in mmvisionllm reads a local directory (``local_files_only=True``): the
project never reaches a model hub. A missing directory would otherwise surface as a confusing hub
error ("Repo id must be in the form ..."), so paths are checked first and the error names the config
key.
"""
import os.path as osp

__all__ = ['check_local_checkpoint']


def check_local_checkpoint(path: str, config_key: str) -> str:
    """Return ``path`` if it is an existing local directory, else raise a clear error.

    Args:
        path (str): The local checkpoint directory (absolute, or relative to the working directory).
        config_key (str): The config key that holds the path, named in the error message.

    Returns:
        str: The path, unchanged.

    Raises:
        FileNotFoundError: If ``path`` is not an existing directory.
    """
    if not isinstance(path, str) or not osp.isdir(path):
        raise FileNotFoundError(
            f'{config_key}={path!r}: no such local checkpoint directory (looked in '
            f'{osp.abspath(str(path))!r}). mmvisionllm loads weights only from local paths saved '
            'with `save_pretrained`; download the checkpoint there or fix the path in the config.')
    return path
