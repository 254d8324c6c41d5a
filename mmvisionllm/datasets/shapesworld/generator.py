"""Generate the whole ShapesWorld benchmark: scenes, every task's files and the tokenizer.

Each scene is drawn from its own ``numpy.random.Generator`` seeded with ``(seed, split, index)``,
so the output only depends on the arguments (same seed → byte-identical files, another seed →
another dataset, and train/val never share a scene). The command-line entry point is
``tools/misc/generate_shapesworld.py``.
"""
import os
import os.path as osp
import random
import shutil
from typing import Dict, List

import numpy as np
from tqdm import tqdm

from .renderer import render_scene
from .scene_annotator import annotate_scene
from .scene_facts import collect_object_facts
from .scene_sampler import sample_scene
from .split_writer import ShapesWorldSplitWriter
from .vocabulary import build_word_level_tokenizer, save_tokenizer

__all__ = ['SPLIT_CODES', 'OUTPUT_SUBDIRS', 'STAMP_FILE', 'generate_shapesworld']

#: Second element of each scene's seed, per split.
SPLIT_CODES: Dict[str, int] = {'train': 0, 'val': 1}
#: Sub-directories written (and replaced with ``overwrite=True``).
OUTPUT_SUBDIRS = ('images', 'annotations', 'tokenizer')
GENERATOR_VERSION = '1.0'
#: Record of the arguments a complete output was generated with (written by
#: tools/misc/generate_shapesworld.py, removed here as soon as an output is replaced, so an
#: interrupted generation leaves no record that vouches for it).
STAMP_FILE = 'generation.json'


def _prepare_out_dir(out_dir: str, overwrite: bool) -> None:
    existing = [d for d in OUTPUT_SUBDIRS if osp.exists(osp.join(out_dir, d))]
    if existing and not overwrite:
        raise FileExistsError(
            f'{out_dir} already holds ShapesWorld output ({", ".join(existing)}); pass '
            'overwrite=True (--overwrite) to replace it')
    stamp = osp.join(out_dir, STAMP_FILE)
    if osp.isfile(stamp):
        os.remove(stamp)
    for sub_dir in existing:
        shutil.rmtree(osp.join(out_dir, sub_dir))
    os.makedirs(out_dir, exist_ok=True)


def generate_shapesworld(out_dir: str,
                         seed: int = 0,
                         num_train: int = 2000,
                         num_val: int = 200,
                         img_size: int = 128,
                         overwrite: bool = False,
                         show_progress: bool = True) -> Dict[str, Dict[str, int]]:
    """Generate the benchmark into ``out_dir``.

    Args:
        out_dir (str): Output root (e.g. ``data/shapesworld``).
        seed (int): Random seed. Defaults to 0.
        num_train (int): Number of training scenes. Defaults to 2000.
        num_val (int): Number of validation scenes. Defaults to 200.
        img_size (int): Image side in pixels (>= 64). Defaults to 128.
        overwrite (bool): Replace existing output sub-directories. Defaults to False.
        show_progress (bool): Show a tqdm progress bar. Defaults to True.

    Returns:
        dict: Per split, the number of records of each kind (images, instances, keypoints,
        refexps, vqa, captions, regions, t2i, edits).
    """
    if img_size < 64:
        raise ValueError(f'img_size must be >= 64 so small objects stay visible, got {img_size}')
    if num_train < 0 or num_val < 0:
        raise ValueError(f'Scene counts must be >= 0, got num_train={num_train}, num_val={num_val}')
    _prepare_out_dir(out_dir, overwrite)
    info = {
        'description': 'ShapesWorld procedural benchmark of mmvisionllm',
        'version': GENERATOR_VERSION,
        'seed': seed,
        'img_size': img_size
    }
    counts = {'train': num_train, 'val': num_val}
    progress = tqdm(
        total=num_train + num_val, desc='ShapesWorld', unit='scene', disable=not show_progress)
    all_texts: List[str] = []
    summary: Dict[str, Dict[str, int]] = {}
    for split, num_scenes in counts.items():
        writer = ShapesWorldSplitWriter(out_dir, split, img_size, info)
        for index in range(num_scenes):
            rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
            scene = sample_scene(rng, img_size)
            rendered = render_scene(scene)
            objects = collect_object_facts(scene, rendered)
            texts = annotate_scene(scene, objects, random.Random(int(rng.integers(2**62))))
            writer.add_scene(index, scene, rendered, objects, texts)
            progress.update(1)
        writer.write()
        all_texts.extend(writer.all_texts())
        summary[split] = {
            'images': len(writer.images),
            'instances': len(writer.instances),
            'keypoints': len(writer.keypoints),
            'refexps': len(writer.refexp_images),
            'vqa': len(writer.vqa_questions),
            'captions': len(writer.captions),
            'regions': len(writer.regions),
            't2i': len(writer.t2i),
            'edits': len(writer.edits)
        }
    progress.close()
    save_tokenizer(build_word_level_tokenizer(all_texts), osp.join(out_dir, 'tokenizer'))
    return summary
