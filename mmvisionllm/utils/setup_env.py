"""Register every mmvisionllm module and make ``mmvisionllm`` the default registry scope.

The packages to import are not listed here: they are the ``locations`` that the registries of
``mmvisionllm/registry.py`` declare (MMEngine's own mechanism for finding where a registered type
lives). So ``utils`` stays the bottom layer of the package graph and imports no package above it.
"""
import datetime
import importlib
import warnings

from mmengine import DefaultScope

from mmvisionllm import registry


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every package the registries name as a location, and apply the compat shims.

    Args:
        init_default_scope (bool): Whether to make ``mmvisionllm`` the default scope, so that
            configs can name our types without a prefix. If another scope is current, a new uniquely
            named ``mmvisionllm`` scope instance is created and made current. Defaults to True.
    """
    for location in registry_locations():
        importlib.import_module(location)
    from .compat import allow_mmengine_checkpoint_types
    from .dist_compat import apply_dist_compat
    allow_mmengine_checkpoint_types()
    apply_dist_compat()  # DDP/FSDP on a CPU (gloo), see dist_compat

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmvisionllm')
        if never_created:
            DefaultScope.get_instance('mmvisionllm', scope_name='mmvisionllm')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmvisionllm':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmvisionllm", '
                          '`register_all_modules` will force the current'
                          'default scope to be "mmvisionllm". If this is not '
                          'expected, please set `init_default_scope=False`.')
            new_instance_name = f'mmvisionllm-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmvisionllm')


def registry_locations() -> list:
    """The packages (sorted, unique) that mmvisionllm's registries name as their ``locations``."""
    found = set()
    for name in registry.__all__:
        found.update(getattr(registry, name)._locations)
    return sorted(found)
