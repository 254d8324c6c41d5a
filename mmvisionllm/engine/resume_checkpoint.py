"""Pick the checkpoint a ``--resume`` continues from, skipping truncated files.

MMEngine's ``find_latest_checkpoint`` returns the file named in ``<work_dir>/last_checkpoint``
whatever state it is in, and ``--resume`` in a work dir without checkpoints trains from scratch
("Did not find last_checkpoint"). A kill or a full disk while a checkpoint is written leaves a
truncated file behind; resuming then fails, although the previous checkpoint is intact. The rules:

* candidates are the file ``last_checkpoint`` names, then every other ``*.pth`` of the work dir,
  newest (modification time) first;
* a candidate is complete when it opens as the zip archive ``torch.save`` writes and holds its
  ``data.pkl`` record (a truncated file loses the archive's central directory, at its end). This
  reads the directory only, not the tensors; a file damaged in the middle still fails loudly when
  it is loaded. A DeepSpeed checkpoint (a directory ``iter_N.pth/``) is complete when its
  model-states file exists and all its ``*_states.pt`` files are complete;
* every skipped candidate is named in a warning; :func:`find_resumable_checkpoint` returns None when
  no complete checkpoint exists (``tools/train.py --resume`` then stops with an error).
"""
import glob
import logging
import os.path as osp
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

__all__ = ['checkpoint_problem', 'find_resumable_checkpoint']


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete checkpoint, or None if it looks complete.

    ``path`` is a ``torch.save`` file or the directory DeepSpeed writes (``DeepSpeedStrategy``):
    that one is complete when it holds a ``*model_states.pt`` and each of its ``*_states.pt``
    files is complete.
    """
    if osp.isdir(path):
        return _deepspeed_dir_problem(path)
    if not osp.isfile(path):
        return 'the file does not exist'
    return _archive_problem(path)


def _deepspeed_dir_problem(path: str) -> Optional[str]:
    files = sorted(glob.glob(osp.join(path, '*_states.pt')))
    if not any(f.endswith('model_states.pt') for f in files):
        return 'a directory without DeepSpeed model states (*model_states.pt)'
    for file in files:
        problem = _archive_problem(file)
        if problem is not None:
            return f'{osp.basename(file)}: {problem}'
    return None


def _archive_problem(path: str) -> Optional[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        return f'it is truncated or not a torch checkpoint ({error})'
    if not any(name.endswith('/data.pkl') or name == 'data.pkl' for name in names):
        return 'it has no data.pkl record'
    return None


def _candidates(work_dir: str) -> List[str]:
    files = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime, reverse=True)
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named:
            named = named if osp.isabs(named) else osp.join(work_dir, osp.basename(named))
            files = [named] + [f for f in files if osp.abspath(f) != osp.abspath(named)]
    return files


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``work_dir`` (see the module docstring), or None."""
    for path in _candidates(work_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        print_log(
            f'resume: skipping checkpoint {path}: {problem}',
            logger='current',
            level=logging.WARNING)
    return None
