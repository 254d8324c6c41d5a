"""Register every mmvisionllm module and make ``mmvisionllm`` the default registry scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmvisionllm package that registers modules, and the compat shims.

    Args:
        init_default_scope (bool): Whether to make ``mmvisionllm`` the default scope, so that
            configs can name our types without a prefix. If another scope is current, a new uniquely
            named ``mmvisionllm`` scope instance is created and made current. Defaults to True.
    """
    import mmvisionllm.apis  # noqa: F401,F403
    import mmvisionllm.datasets  # noqa: F401,F403
    import mmvisionllm.engine  # noqa: F401,F403
    import mmvisionllm.evaluation  # noqa: F401,F403
    import mmvisionllm.models  # noqa: F401,F403
    import mmvisionllm.structures  # noqa: F401,F403
    import mmvisionllm.visualization  # noqa: F401,F403
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
