"""Environment set-up and compatibility helpers."""
from .compat import allow_mmengine_checkpoint_types, mmengine_checkpoint_types
from .dist_compat import apply_dist_compat, check_same_on_all_ranks, is_multi_process
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_types',
    'apply_dist_compat', 'check_same_on_all_ranks', 'is_multi_process'
]
