"""Training hooks: stop at a non-finite loss, checkpoint the random generators, keep checkpoints
to the trainable tensors."""
from .adapter_checkpoint_hook import AdapterCheckpointHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AdapterCheckpointHook', 'FiniteLossHook', 'NonFiniteLossError', 'RNGStateHook',
    'get_rng_state', 'set_rng_state'
]
