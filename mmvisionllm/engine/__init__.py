"""engine: hooks, optimizer wrappers and constructors."""
from .hooks import AdapterCheckpointHook
from .optimizers import AnyDeviceAmpOptimWrapper, SharedParamOptimWrapperConstructor

__all__ = [
    'AdapterCheckpointHook', 'AnyDeviceAmpOptimWrapper', 'SharedParamOptimWrapperConstructor'
]
