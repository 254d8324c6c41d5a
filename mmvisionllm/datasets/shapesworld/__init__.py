"""ShapesWorld: the embedded procedural benchmark (scene graph → image → standard files)."""
from .generator import generate_shapesworld
from .renderer import render_scene
from .scene_graph import Scene, SceneObject
from .scene_sampler import sample_scene
from .vocabulary import build_word_level_tokenizer
from .world_spec import (CATEGORY_NAMES, COLOURS, KEYPOINT_NAMES, KEYPOINT_SIGMAS, SHAPE_CLASSES,
                         SKELETON)

__all__ = [
    'generate_shapesworld', 'render_scene', 'Scene', 'SceneObject', 'sample_scene',
    'build_word_level_tokenizer', 'CATEGORY_NAMES', 'COLOURS', 'KEYPOINT_NAMES', 'KEYPOINT_SIGMAS',
    'SHAPE_CLASSES', 'SKELETON'
]
