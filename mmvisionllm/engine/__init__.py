"""Runtime pieces: hooks, optimizer wrappers and constructors, the checked-loading runner, resume
and config checks, the FSDP wrap policy."""
from .checked_load_runner import CheckedLoadRunner
from .checkpoint_loading import CheckpointMismatchError, load_checked_state_dict
from .config_checks import ConfigKeyError, check_config_keys
from .fsdp_wrap_policy import DEFAULT_WRAP_CLASSES, visionllm_wrap_policy
from .hooks import AdapterCheckpointHook, FiniteLossHook, NonFiniteLossError, RNGStateHook
from .optimizers import AnyDeviceAmpOptimWrapper, SharedParamOptimWrapperConstructor
from .resume_checkpoint import checkpoint_problem, find_resumable_checkpoint
from .sharded_optim_wrapper import ShardedGradClipOptimWrapper

__all__ = [
    'CheckedLoadRunner', 'CheckpointMismatchError', 'load_checked_state_dict', 'ConfigKeyError',
    'check_config_keys', 'AdapterCheckpointHook', 'FiniteLossHook', 'NonFiniteLossError',
    'RNGStateHook', 'AnyDeviceAmpOptimWrapper', 'SharedParamOptimWrapperConstructor',
    'checkpoint_problem', 'find_resumable_checkpoint', 'visionllm_wrap_policy',
    'DEFAULT_WRAP_CLASSES', 'ShardedGradClipOptimWrapper'
]
