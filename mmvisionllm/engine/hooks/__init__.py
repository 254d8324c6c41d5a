"""Training hooks: stop at a non-finite loss, checkpoint the random generators."""
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'RNGStateHook', 'get_rng_state', 'set_rng_state']
