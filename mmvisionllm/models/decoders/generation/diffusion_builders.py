"""Build the diffusers / transformers parts of the generation decoders from config dicts.

Reused, not rewritten: every network and scheduler is the library's own class —
``diffusers.UNet2DConditionModel``, ``diffusers.AutoencoderKL``, ``diffusers.DDPMScheduler``
(training), ``diffusers.DDIMScheduler`` / ``diffusers.DPMSolverMultistepScheduler`` (sampling) and
``transformers.CLIPTextModel`` / ``CLIPTokenizer`` — so real Stable Diffusion 1.5 weights load
unchanged. This module only turns an mmengine-style config dict into one of them, in one of two
ways:

* tiny / random init: ``dict(type='UNet2DConditionModel', sample_size=64, ...)`` calls the class
  with the remaining keys as its constructor arguments (schedulers: the scheduler's config
  arguments);
* real / local weights:
  ``dict(type='UNet2DConditionModel', pretrained='/models/sd15', subfolder='unet')`` calls
  ``from_pretrained`` on the local folder with ``local_files_only=True`` (never the hub). A
  missing folder raises ``FileNotFoundError`` naming the config key and the path.

The class is looked up by name in ``diffusers`` first, then ``transformers``.
"""
import copy
import os.path as osp
from typing import Any, Optional

import diffusers
import torch
import transformers
from torch import nn

__all__ = ['build_hf_component', 'build_sample_scheduler', 'expand_unet_in_channels']


def _resolve_class(type_name: Any, key: str) -> type:
    """Return the diffusers/transformers class named ``type_name`` (or ``type_name`` if a class)."""
    if isinstance(type_name, type):
        return type_name
    for lib in (diffusers, transformers):
        cls = getattr(lib, str(type_name), None)
        if isinstance(cls, type):
            return cls
    raise KeyError(f'{key}.type={type_name!r} is neither a diffusers nor a transformers class')


def build_hf_component(cfg: Optional[dict], key: str) -> Any:
    """Build a diffusers/transformers model, scheduler or tokenizer from a config dict.

    Args:
        cfg (dict | None): ``type`` names the class. With ``pretrained`` (a local folder) and
            optional ``subfolder``, the object is loaded by ``from_pretrained(folder,
            local_files_only=True)``; other keys are passed on as keyword arguments
            (``torch_dtype``...). Without ``pretrained`` the keys are the constructor (diffusers
            model), ``config_class`` (transformers model) or ``from_config`` (scheduler) arguments.
        key (str): The config key of ``cfg`` (e.g. ``'unet'``), used in error messages.

    Returns:
        The built object, or None when ``cfg`` is None.

    Raises:
        FileNotFoundError: ``pretrained`` (joined with ``subfolder``) is not an existing local
        folder.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'{key} must be a dict with a "type" key, got {cfg!r}')
    cfg = copy.deepcopy(dict(cfg))
    cls = _resolve_class(cfg.pop('type'), key)
    pretrained = cfg.pop('pretrained', None)
    subfolder = cfg.pop('subfolder', None)
    if pretrained is not None:
        path = osp.join(str(pretrained), subfolder) if subfolder else str(pretrained)
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{key}.pretrained: local folder {path!r} does not exist '
                f'(pretrained={pretrained!r}, subfolder={subfolder!r}); point it at a local '
                'Stable-Diffusion-style directory (unet/, vae/, scheduler/, text_encoder/, '
                'tokenizer/). Nothing is downloaded.')
        return cls.from_pretrained(path, local_files_only=True, **cfg)
    if issubclass(cls, diffusers.SchedulerMixin):
        return cls.from_config(cfg)
    if issubclass(cls, transformers.PreTrainedModel):
        return cls(cls.config_class(**cfg))
    return cls(**cfg)


def build_sample_scheduler(cfg: Optional[dict], train_scheduler: Any) -> Any:
    """Build the sampling scheduler, sharing the training scheduler's noise schedule.

    Args:
        cfg (dict | None): ``dict(type='DDIMScheduler' | 'DPMSolverMultistepScheduler',
            **overrides)``. None means DDIM. The training scheduler's config (betas, prediction
            type...) is the base and the remaining keys override it, as diffusers'
            ``from_config(config, **kwargs)`` does. train_scheduler: The training noise scheduler
            (e.g. ``DDPMScheduler``).

    Returns:
        A fresh scheduler instance (multistep solvers keep state, so build one per sampling run).
    """
    cfg = copy.deepcopy(dict(cfg or dict(type='DDIMScheduler')))
    cls = _resolve_class(cfg.pop('type'), 'sample_scheduler')
    return cls.from_config(train_scheduler.config, **cfg)


@torch.no_grad()
def expand_unet_in_channels(unet: nn.Module, in_channels: int) -> None:
    """Widen ``unet.conv_in`` in place to ``in_channels`` inputs (InstructPix2Pix initialisation).

    The weights of the existing input channels are kept and those of the added channels (the source
    image latent, coordinate channels) start at zero, so a pretrained text-to-image UNet behaves
    unchanged at the start of training. No-op when the UNet already has ``in_channels`` inputs.

    Args:
        unet (UNet2DConditionModel): The UNet to modify.
        in_channels (int): The required number of input channels (> the current number).
    """
    old = unet.conv_in
    if old.in_channels == in_channels:
        return
    if old.in_channels > in_channels:
        raise ValueError(f'UNet has {old.in_channels} input channels, more than the {in_channels} '
                         'needed; configure unet.in_channels explicitly')
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    new.weight.zero_()
    new.weight[:, :old.in_channels].copy_(old.weight)
    new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=in_channels)
