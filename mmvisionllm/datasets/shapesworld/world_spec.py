"""The fixed vocabulary of ShapesWorld: categories, colours, sizes and the stick-figure skeleton.

Every other ShapesWorld module reads its names from here, and the mmpose-style keypoint metainfo in
``configs/_base_/datasets/shapesworld_keypoint_info.py`` mirrors ``KEYPOINT_NAMES``/``SKELETON``/
``KEYPOINT_SIGMAS`` (a test checks that they agree). Category ids follow COCO's habit of giving
``person`` the id 1, so mmpose's ``CocoMetric`` default ``category_id=1`` is right for the
keypoints.
"""
from typing import Dict, Tuple

__all__ = [
    'PERSON_CLASS', 'SHAPE_CLASSES', 'CATEGORY_NAMES', 'CATEGORY_IDS', 'PLURAL_NAMES', 'COLOURS',
    'SIZE_NAMES', 'SHAPE_RADIUS_RANGES', 'PERSON_HEIGHT_RANGES', 'KEYPOINT_NAMES', 'SKELETON',
    'KEYPOINT_SIGMAS', 'JOINT_WEIGHTS', 'NUMBER_WORDS', 'REFERENCE_IMG_SIZE'
]

#: The articulated stick figure, ShapesWorld's "person".
PERSON_CLASS = 'person'
#: Flat shape classes.
SHAPE_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'cross')
#: All detection classes in dataset order (label i ↔ category id i + 1).
CATEGORY_NAMES: Tuple[str, ...] = (PERSON_CLASS, ) + SHAPE_CLASSES
#: COCO category id of each class name.
CATEGORY_IDS: Dict[str, int] = {name: i + 1 for i, name in enumerate(CATEGORY_NAMES)}
#: Plural of each class name (used by counting questions and captions).
PLURAL_NAMES: Dict[str, str] = {
    'person': 'people',
    'circle': 'circles',
    'square': 'squares',
    'triangle': 'triangles',
    'star': 'stars',
    'cross': 'crosses',
}

#: Named colours and their RGB values; chosen far apart so a tiny model can tell them apart.
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40),
    'green': (40, 160, 60),
    'blue': (40, 80, 220),
    'yellow': (235, 200, 30),
    'purple': (150, 60, 200),
}

#: Size words; an object's size is relative to its own class.
SIZE_NAMES: Tuple[str, ...] = ('small', 'large')
#: Circumradius range in pixels of a shape, per size, at ``REFERENCE_IMG_SIZE`` (scaled linearly).
SHAPE_RADIUS_RANGES: Dict[str, Tuple[float, float]] = {'small': (8.0, 11.0), 'large': (15.0, 21.0)}
#: Head-to-foot height range in pixels of a stick figure, per size, at ``REFERENCE_IMG_SIZE``.
PERSON_HEIGHT_RANGES: Dict[str, Tuple[float, float]] = {
    'small': (36.0, 46.0),
    'large': (56.0, 70.0)
}
#: Image size the pixel ranges above are given for.
REFERENCE_IMG_SIZE = 128

#: Keypoints of the stick figure in metainfo order. "left" is the figure's own left, which is on the
#: image's right because figures always face the viewer; left limbs never cross to the image's left.
KEYPOINT_NAMES: Tuple[str, ...] = ('head', 'neck', 'left_shoulder', 'right_shoulder', 'left_elbow',
                                   'right_elbow', 'left_hand', 'right_hand', 'hip', 'left_knee',
                                   'right_knee', 'left_foot', 'right_foot')
#: Limbs drawn between keypoints (also the mmpose skeleton_info links).
SKELETON: Tuple[Tuple[str, str],
                ...] = (('head', 'neck'), ('neck', 'left_shoulder'), ('neck', 'right_shoulder'),
                        ('left_shoulder', 'left_elbow'), ('left_elbow', 'left_hand'),
                        ('right_shoulder', 'right_elbow'), ('right_elbow', 'right_hand'),
                        ('neck', 'hip'), ('hip', 'left_knee'), ('left_knee', 'left_foot'),
                        ('hip', 'right_knee'), ('right_knee', 'right_foot'))
#: Per-keypoint OKS sigmas (same meaning as COCO's); extremities are looser, like COCO's
#: wrists/ankles.
KEYPOINT_SIGMAS: Tuple[float, ...] = (0.050, 0.040, 0.045, 0.045, 0.055, 0.055, 0.065, 0.065, 0.050,
                                      0.060, 0.060, 0.070, 0.070)
#: Per-keypoint loss weights (mmpose ``joint_weights``).
JOINT_WEIGHTS: Tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.0, 1.2, 1.2, 1.5, 1.5)

#: Number words 0-20 (the tokenizer knows both the words and the digits).
NUMBER_WORDS: Tuple[str,
                    ...] = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
                            'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen',
                            'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty')
