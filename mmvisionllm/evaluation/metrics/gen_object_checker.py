"""GenEval-style check of a generated ShapesWorld image against the requested objects.

The detector only knows shape classes, so each detected object's colour is measured from the image:
the mean RGB of its pixels — the predicted mask when the detector gives masks, otherwise the box's
pixels that differ from the background (estimated per row as the median of the image's left and
right border columns, which fits ShapesWorld's vertical-gradient backgrounds) by more than
``fg_threshold``
— is assigned to the nearest named colour (Euclidean RGB distance), or to no colour when even the
nearest one is farther than ``max_colour_dist`` (e.g. the grey mean of a noise region).

An image passes when every requested phrase finds enough distinct detections of its class (and
colour, when the phrase names one), no excluded phrase is found, and — with ``check_extra`` — no
detection is left that no requested phrase asked for. Reused: nothing; the detector itself is
mmdet's (see ``gen_detector``).
"""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .gen_caption_parser import ObjectSpec, ShapesVocabulary

__all__ = [
    'FoundObject', 'colour_distances', 'measure_colour', 'describe_objects', 'check_objects',
    'specs_from_found'
]


@dataclass(frozen=True)
class FoundObject:
    """A detection with its measured colour.

    Attributes:
        category (str): Detected class name.
        colour (str | None): Nearest named colour of its pixels, None if none is close enough.
        score (float): Detection score.
        bbox (tuple[float, float, float, float]): xyxy box in image pixels.
    """

    category: str
    colour: Optional[str]
    score: float
    bbox: Tuple[float, float, float, float]


def colour_distances(image: np.ndarray,
                     bbox: Optional[Sequence[float]],
                     colours: Dict[str, Tuple[int, int, int]],
                     mask: Optional[np.ndarray] = None,
                     fg_threshold: float = 40.0) -> Optional[Dict[str, float]]:
    """RGB distance from the mean colour of one object's pixels to each named colour.

    The object's pixels are those under ``mask`` when it has any, otherwise the pixels of ``bbox``
    that differ from the background (see the module docstring) by more than ``fg_threshold``.

    Args:
        image (np.ndarray): [H, W, 3] RGB image (uint8 or float).
        bbox (Sequence[float], optional): xyxy box; may be None only when ``mask`` is non-empty.
        colours (dict): Colour name → RGB.
        mask (np.ndarray, optional): [H, W] bool mask of the object.
        fg_threshold (float): RGB distance from the background above which a box pixel is
            foreground.

    Returns:
        dict | None: Colour name → Euclidean RGB distance, None when the object has no pixels.
    """
    h, w = image.shape[:2]
    img = image.astype(np.float32)
    if mask is not None and mask.any():
        pixels = img[mask.astype(bool)]
    elif bbox is None:
        raise ValueError('colour_distances needs a box when the mask is missing or empty')
    else:
        x1 = int(np.clip(np.floor(bbox[0]), 0, w - 1))
        y1 = int(np.clip(np.floor(bbox[1]), 0, h - 1))
        x2 = int(np.clip(np.ceil(bbox[2]), x1 + 1, w))
        y2 = int(np.clip(np.ceil(bbox[3]), y1 + 1, h))
        region = img[y1:y2, x1:x2]
        background = np.median(np.stack([img[y1:y2, 0], img[y1:y2, w - 1]], axis=1), axis=1)
        foreground = np.linalg.norm(region - background[:, None, :], axis=-1) > fg_threshold
        pixels = region[foreground]
    if len(pixels) == 0:
        return None
    mean = pixels.mean(axis=0)
    names = list(colours)
    dists = np.linalg.norm(np.asarray([colours[n] for n in names], np.float32) - mean, axis=1)
    return {name: float(dist) for name, dist in zip(names, dists)}


def measure_colour(image: np.ndarray,
                   bbox: Sequence[float],
                   colours: Dict[str, Tuple[int, int, int]],
                   mask: Optional[np.ndarray] = None,
                   fg_threshold: float = 40.0,
                   max_colour_dist: float = 80.0) -> Optional[str]:
    """Name the colour of one object: the nearest named colour of :func:`colour_distances`.

    Args:
        image (np.ndarray): [H, W, 3] uint8 RGB image.
        bbox (Sequence[float]): xyxy box.
        colours (dict): Colour name → RGB.
        mask (np.ndarray, optional): [H, W] bool mask of the object.
        fg_threshold (float): See :func:`colour_distances`.
        max_colour_dist (float): Largest RGB distance from the mean to a named colour.

    Returns:
        str | None: The colour name, or None.
    """
    dists = colour_distances(image, bbox, colours, mask, fg_threshold)
    if dists is None:
        return None
    best = min(dists, key=dists.get)
    return best if dists[best] <= max_colour_dist else None


def describe_objects(image: np.ndarray,
                     detections: dict,
                     classes: Sequence[str],
                     vocabulary: ShapesVocabulary,
                     score_thr: float = 0.3,
                     fg_threshold: float = 40.0,
                     max_colour_dist: float = 80.0) -> List[FoundObject]:
    """Turn one image's detections into named, coloured objects.

    Args:
        image (np.ndarray): [H, W, 3] uint8 RGB image.
        detections (dict): ``bboxes`` [n, 4], ``labels`` [n], ``scores`` [n], optional ``masks``
            [n, H, W] bool (numpy arrays, image coordinates).
        classes (Sequence[str]): Class name of each detector label.
        vocabulary (ShapesVocabulary): Named colours.
        score_thr (float): Detections below this score are ignored.
        fg_threshold (float): See :func:`measure_colour`.
        max_colour_dist (float): See :func:`measure_colour`.

    Returns:
        list[FoundObject]: The kept detections.
    """
    found = []
    masks = detections.get('masks')
    for i, (box, label, score) in enumerate(
            zip(detections['bboxes'], detections['labels'], detections['scores'])):
        if float(score) < score_thr:
            continue
        mask = masks[i] if masks is not None and len(masks) > i else None
        colour = measure_colour(image, box, vocabulary.colours, mask, fg_threshold, max_colour_dist)
        found.append(
            FoundObject(
                str(classes[int(label)]), colour, float(score), tuple(float(v) for v in box)))
    return found


def specs_from_found(found: Sequence[FoundObject]) -> List[ObjectSpec]:
    """Requested objects equal to what was found (the reference of an edit target image)."""
    counts = sorted(Counter((f.category, f.colour) for f in found).items(), key=str)
    return [ObjectSpec(category, colour, None, n) for (category, colour), n in counts]


def _matches(obj: FoundObject, spec: ObjectSpec) -> bool:
    return obj.category == spec.category and (spec.colour is None or obj.colour == spec.colour)


def check_objects(found: Sequence[FoundObject],
                  present: Sequence[ObjectSpec],
                  absent: Sequence[ObjectSpec] = (),
                  check_extra: bool = True,
                  exact_count: bool = False) -> bool:
    """Whether the found objects satisfy the request.

    Phrases naming a colour are served first, each taking distinct detections.

    Args:
        found (Sequence[FoundObject]): Objects in the image.
        present (Sequence[ObjectSpec]): Requested phrases.
        absent (Sequence[ObjectSpec]): Excluded phrases.
        check_extra (bool): Fail when a detection is left unclaimed by the requested phrases
            (after each phrase took its count, or with ``exact_count=False`` all it matches).
        exact_count (bool): A phrase must match exactly ``count`` detections instead of at least.

    Returns:
        bool: True if the image passes.
    """
    if any(_matches(obj, spec) for spec in absent for obj in found):
        return False
    unused = list(range(len(found)))
    for spec in sorted(present, key=lambda s: s.colour is None):
        hits = [i for i in unused if _matches(found[i], spec)]
        if len(hits) < spec.count or (exact_count and len(hits) != spec.count):
            return False
        claimed = hits[:spec.count] if exact_count else hits
        unused = [i for i in unused if i not in claimed]
    return not (check_extra and unused)
