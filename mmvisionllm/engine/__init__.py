"""engine: training-engine pieces (FSDP wrap policy, clipping of sharded gradients)."""
from .fsdp_wrap_policy import DEFAULT_WRAP_CLASSES, visionllm_wrap_policy
from .sharded_optim_wrapper import ShardedGradClipOptimWrapper

__all__ = ['visionllm_wrap_policy', 'DEFAULT_WRAP_CLASSES', 'ShardedGradClipOptimWrapper']
