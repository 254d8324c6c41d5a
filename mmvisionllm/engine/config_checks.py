"""Refuse a top-level config key that is a typo of a Runner setting.

MMEngine's ``Runner.from_cfg`` reads the settings it knows and ignores every other top-level key,
so ``trian_cfg = dict(max_iters=10)`` in a child config, or
``--cfg-options trian_cfg.max_iters=10``, trained the default schedule without a word. Configs
also hold helper variables at the top level
(``max_iters``, ``sw_ann``, the ``shapesworld_*`` dataset dicts), so an unknown key alone is not an
error. The rules:

* a top-level key that is not a Runner setting but close to one (``difflib`` ratio >= 0.8, e.g.
  ``trian_cfg`` ~ ``train_cfg``) is an error that names both;
* a ``--cfg-options`` key whose top-level name neither exists in the config nor is a Runner setting
  is an error: command-line options override settings, a new top-level name does nothing.
"""
import difflib
import inspect
from typing import Iterable, Optional, Set

from mmengine.config import Config
from mmengine.runner import Runner

__all__ = ['ConfigKeyError', 'check_config_keys', 'runner_config_keys']

# top-level keys read outside Runner.__init__'s arguments (Runner.from_cfg, the tools, OpenMMLab)
EXTRA_KEYS = ('runner_type', 'model_wrapper_cfg', 'custom_imports', 'vis_backends', 'work_dir',
              'launcher', 'compile', 'strategy', 'gpu_ids', 'find_unused_parameters',
              'auto_scale_lr', 'tta_model', 'tta_pipeline', 'dist_params')


class ConfigKeyError(KeyError):
    """A config key that would be ignored."""

    def __str__(self) -> str:
        return str(self.args[0])


def runner_config_keys() -> Set[str]:
    """The top-level keys that MMEngine's Runner (or the tools) read."""
    params = set(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'}
    return params | set(EXTRA_KEYS)


# known, but not offered as corrections: ``det_pipeline`` / ``train_pipeline`` helper variables are
# as close to ``tta_pipeline`` as a typo is to its setting
NOT_SUGGESTED = ('tta_model', 'tta_pipeline')


def _close(key: str, known: Iterable[str]) -> Optional[str]:
    candidates = sorted(set(known) - set(NOT_SUGGESTED))
    matches = difflib.get_close_matches(key, candidates, n=1, cutoff=0.8)
    return matches[0] if matches else None


def check_config_keys(cfg: Config, cfg_options: Optional[dict] = None) -> None:
    """Raise :class:`ConfigKeyError` for a typo'd top-level key (see the module docstring).

    Args:
        cfg (Config): The config as read from its file, before ``cfg_options`` are merged.
        cfg_options (dict, optional): The ``--cfg-options`` overrides (dotted keys).
    """
    known = runner_config_keys()
    source = getattr(cfg, 'filename', None) or 'the config'
    for key in cfg.keys():
        if key in known:
            continue
        close = _close(key, known)
        if close is not None:
            raise ConfigKeyError(f'{source}: top-level key "{key}" is not a setting the Runner '
                                 f'reads (it would be ignored); did you mean "{close}"?')
    for option in (cfg_options or {}):
        top = option.split('.')[0]
        if top in cfg or top in known:
            continue
        close = _close(top, set(cfg.keys()) | known)
        hint = f'; did you mean "{close}"?' if close else ''
        raise ConfigKeyError(f'--cfg-options {option}: {source} has no top-level key "{top}" and '
                             f'the Runner does not read one, so the option would be ignored{hint}')
