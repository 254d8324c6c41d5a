"""Optimizer wrappers and constructors of mmvisionllm."""
from .amp_optim_wrapper import AnyDeviceAmpOptimWrapper
from .shared_param_constructor import SharedParamOptimWrapperConstructor

__all__ = ['AnyDeviceAmpOptimWrapper', 'SharedParamOptimWrapperConstructor']
