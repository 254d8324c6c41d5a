"""Turn a DeepSpeed ZeRO or FSDP checkpoint into the plain MMEngine checkpoint the tools load.

Usage::

    python tools/model_converters/consolidate_checkpoint.py SRC OUT.pth

``SRC`` is what ``FlexibleRunner`` saved:

* DeepSpeed (``DeepSpeedStrategy``): a *directory* ``work_dir/iter_N.pth/`` with
  ``mp_rank_00_model_states.pt`` (ZeRO-1/2; ZeRO-3 writes one
  ``zero_pp_rank_<r>_mp_rank_00_model_states.pt`` per rank) and one
  ``zero_pp_rank_<r>_mp_rank_00_optim_states.pt`` per rank.
  The fp32 weights are gathered from the ZeRO partitions with DeepSpeed's own
  ``deepspeed.utils.zero_to_fp32.get_fp32_state_dict_from_zero_checkpoint`` (works for ZeRO-2 and
  ZeRO-3, on a machine without GPUs, no process group needed);
* FSDP (``FSDPStrategy`` with a full state dict, the fragment's default): a file whose
  ``state_dict`` rank 0 already gathered; it is re-saved without the optimizer state.

``OUT`` holds ``state_dict`` (the plain model's keys, fp32 for DeepSpeed) and ``meta``, which
``tools/test.py CONFIG OUT.pth``, ``load_from=OUT.pth`` and ``VisionLLMInferencer`` read.
"""
import argparse
import os.path as osp

import torch

# what holds the client state (meta): ZeRO-1/2 write one model-states file, ZeRO-3 one per rank
_MODEL_STATES = ('mp_rank_00_model_states.pt', 'zero_pp_rank_0_mp_rank_00_model_states.pt')


def consolidate(src: str) -> dict:
    """The plain checkpoint (``state_dict`` + ``meta``) of a DeepSpeed dir or an FSDP file."""
    if osp.isdir(src):
        model_states = [
            osp.join(src, name) for name in _MODEL_STATES if osp.isfile(osp.join(src, name))
        ]
        if not model_states:
            raise FileNotFoundError(f'{src} is a directory without {" or ".join(_MODEL_STATES)}: '
                                    'not a DeepSpeed checkpoint')
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
        parent, tag = osp.split(osp.normpath(src))
        state_dict = get_fp32_state_dict_from_zero_checkpoint(parent, tag=tag)
        client = torch.load(model_states[0], map_location='cpu', weights_only=False)
        meta = client.get('meta', {})
    elif osp.isfile(src):
        checkpoint = torch.load(src, map_location='cpu', weights_only=False)
        if 'state_dict' not in checkpoint:
            raise KeyError(f'{src} has no state_dict (keys: {sorted(checkpoint)[:8]})')
        state_dict, meta = checkpoint['state_dict'], checkpoint.get('meta', {})
    else:
        raise FileNotFoundError(f'{src} does not exist')
    return dict(meta=meta, state_dict={k: v.detach().clone() for k, v in state_dict.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description='DeepSpeed/FSDP checkpoint -> plain checkpoint')
    parser.add_argument('src', help='DeepSpeed checkpoint directory or FSDP checkpoint file')
    parser.add_argument('out', help='the plain .pth to write')
    args = parser.parse_args()
    checkpoint = consolidate(args.src)
    torch.save(checkpoint, args.out)
    print(f"wrote {args.out}: {len(checkpoint['state_dict'])} tensors")


if __name__ == '__main__':
    main()
