"""Runtime pieces: hooks, the checked-loading runner, resume and config checks."""
from .checked_load_runner import CheckedLoadRunner
from .checkpoint_loading import CheckpointMismatchError, load_checked_state_dict
from .config_checks import ConfigKeyError, check_config_keys
from .hooks import FiniteLossHook, NonFiniteLossError, RNGStateHook
from .resume_checkpoint import checkpoint_problem, find_resumable_checkpoint

__all__ = [
    'CheckedLoadRunner', 'CheckpointMismatchError', 'load_checked_state_dict', 'ConfigKeyError',
    'check_config_keys', 'FiniteLossHook', 'NonFiniteLossError', 'RNGStateHook',
    'checkpoint_problem', 'find_resumable_checkpoint'
]
