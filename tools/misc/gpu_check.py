"""One-command GPU check: the 7B layout at real size (random bf16 weights) on one GPU, one table.

Usage (a CUDA build of torch and mmcv, e.g. ``make install USE_PYTHON=/path/to/cuda/python``)::

    python tools/misc/gpu_check.py [--work-dir work_dirs/gpu_check] [--iters 4] [--warmup 1]
    python tools/misc/gpu_check.py --dry-run   # any machine: builds every config and the models
                                               # on the meta device, prints the planned table

Rows (each a ``torchrun --nproc_per_node 1`` subprocess of
``tools/analysis_tools/throughput_benchmark.py``, so a failure or an out-of-memory in one row
is reported in the table and the others still run):

* ``stage2-ddp``: stage 2 (LoRA r32 on the LLM + the Grounding DINO Swin-T link decoder and the
  UniPose-T pose decoder, CLIP frozen), plain ``Runner`` + ``MMDistributedDataParallel``, bf16
  autocast (``AmpOptimWrapper``), a ShapesWorld detection batch;
* ``stage1-zero3``: stage 1 (the whole LLM, projector and region encoder train; no decoders),
  ``FlexibleRunner`` + DeepSpeed ZeRO-3 (bf16 torch_autocast, fp32 weights), a ShapesWorld VQA
  batch;
* ``stage1-fsdp``: the same under ``FSDPStrategy`` (fp32 weights, bf16 autocast, the layer
  wrap policy; ~112 GB of weights, gradients and AdamW states on one GPU, the tightest row);
* ``msda``: mmcv's CUDA ``MultiScaleDeformableAttention`` kernel against the pure-PyTorch path
  (``multi_scale_deformable_attn_pytorch``) at Grounding DINO-T's shapes: max |difference| of the
  output and of the value/offset/weight gradients, and both times.

The 7B layout: CLIP ViT-L/14-336 (24 layers, 1024 wide, one 336 px tile = 576 tokens) + the 2-layer
MLP projector + a LLaMA-7B-shaped LLM (32 layers, 4096 wide, 11008 FFN, 32 heads), built from
configs (``config=``, random init) instead of the local checkpoints of
``configs/_base_/models/visionllmv2_7b.py``. The tokenizer is ShapesWorld's word-level one
(written by ``generate_shapesworld.py`` into the work dir), so the LM head has its ~100 rows
instead of Vicuna's 32000 (2 % of the 7B parameters; the FLOP formula uses the built model's
counts). Budget on one H200: model builds ~1 min each, 4 + 1 steps per row; about 6-8 minutes.
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE2 = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_7b_coco_stage2{}.py')
ROWS = ('stage2-ddp', 'stage1-zero3', 'stage1-fsdp')

CLIP_L_336 = dict(
    image_size=336,
    patch_size=14,
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=24,
    num_attention_heads=16,
    projection_dim=768)
LLAMA_7B = dict(
    model_type='llama',
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='7B layout on one GPU: step time, MFU, memory')
    parser.add_argument('--work-dir', default='work_dirs/gpu_check')
    parser.add_argument('--iters', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--batch-size', type=int, default=2, help='samples per step')
    parser.add_argument(
        '--rows', nargs='+', default=list(ROWS) + ['msda'], choices=list(ROWS) + ['msda'])
    parser.add_argument('--timeout', type=int, default=170, help='seconds per row')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='build the configs and the models on the meta device only')
    return parser.parse_args(argv)


def _data(root: str, task: str, batch_size: int) -> dict:
    """A ShapesWorld train dataloader of one task at the 7B views (one 336 px CLIP tile)."""
    from mmengine import Config
    tasks = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'shapesworld_tasks.py'))
    dataset = copy.deepcopy(tasks[f'shapesworld_{task}_train'].to_dict())
    dataset['data_root'] = osp.join(root, 'data', 'shapesworld') + '/'
    return dict(
        batch_size=batch_size,
        num_workers=2,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(
            type='MultiTaskDataset',
            datasets=[dataset],
            transform_overrides=dict(
                DynamicTiling=dict(tile_size=336, max_tiles=1),
                ResizeWithKeypoints=dict(scale=(512, 512)))))


def _model_7b(cfg, root: str, lora: bool) -> None:
    """Random-init CLIP-L-336 + LLaMA-7B-shaped LLM in place of the local checkpoints."""
    cfg.model.vision_encoder = dict(
        type='CLIPVisionEncoder',
        config=CLIP_L_336,
        select_layer=-2,
        num_region_layers=3,
        torch_dtype=cfg.model.vision_encoder.get('torch_dtype'))  # FSDP variant: fp32
    llm = dict(cfg.model.llm)
    llm.pop('pretrained_path', None)
    llm.update(config=LLAMA_7B, tokenizer_path=osp.join(root, 'data', 'shapesworld', 'tokenizer'))
    if not lora:
        llm['lora'] = None
    cfg.model.llm = llm
    cfg.model.template = dict(
        type='ConversationTemplate',
        system='',
        system_separator='',
        user_prefix='<|user|> ',
        assistant_prefix=' <|assistant|>',
        role_tokens=('<|user|>', '<|assistant|>'),
        add_bos=True)  # the word-level tokenizer lower-cases Vicuna's "USER:"


def build_configs(root: str, batch_size: int) -> Dict[str, object]:
    """The three benchmark configs (mmengine ``Config``), keyed by row."""
    from mmengine import Config
    configs = {}
    stage2 = Config.fromfile(STAGE2.format(''))
    _model_7b(stage2, root, lora=True)
    stage2.train_dataloader = _data(root, 'det', batch_size)
    stage2.work_dir = osp.join(root, 'stage2-ddp')
    configs['stage2-ddp'] = stage2
    for row, variant in (('stage1-zero3', '_zero3'), ('stage1-fsdp', '_fsdp')):
        cfg = Config.fromfile(STAGE2.format(variant))
        _model_7b(cfg, root, lora=False)
        cfg.model.decoders = dict()  # stage 1: the LLM side only
        cfg.optim_wrapper.pop('paramwise_cfg', None)  # its keys name the decoders
        cfg.train_dataloader = _data(root, 'vqa', batch_size)
        cfg.work_dir = osp.join(root, row)
        configs[row] = cfg
    return configs


@contextlib.contextmanager
def empty_parameters():
    """Create every ``nn.Parameter`` on the meta device (no memory, no init), buffers as usual.

    ``with torch.device('meta')`` would put every tensor there, and mmdet's Swin calls
    ``torch.linspace(...).item()`` while building; this moves only the parameters, the way
    ``accelerate.init_empty_weights`` does.
    """
    import torch
    original = torch.nn.Module.register_parameter

    def register_parameter(module, name, param):
        original(module, name, param)
        if param is not None:
            kwargs = dict(requires_grad=param.requires_grad)
            module._parameters[name] = type(param)(param.to('meta'), **kwargs)

    torch.nn.Module.register_parameter = register_parameter
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = original


def meta_parameters(cfg) -> Dict[str, int]:
    """Build the model with empty (meta) parameters; parameters per top-level component."""
    from mmvisionllm.registry import MODELS
    with empty_parameters():
        model = MODELS.build(copy.deepcopy(cfg.model))
    counts: Dict[str, int] = {}
    for name, param in model.named_parameters():
        key = name.split('.')[0] if not name.startswith('decoders.') else '.'.join(
            name.split('.')[:2])
        counts[key] = counts.get(key, 0) + param.numel()
    counts['trainable'] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    counts['total'] = sum(p.numel() for p in model.parameters())
    return counts


def run_row(row: str, config_path: str, args) -> dict:
    """One benchmark subprocess; its JSON result or the error."""
    out = osp.join(args.work_dir, f'{row}.json')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1', '--master_port',
        str(29700 + ROWS.index(row)),
        osp.join(REPO, 'tools', 'analysis_tools', 'throughput_benchmark.py'), config_path,
        '--launcher', 'pytorch', '--iters',
        str(args.iters), '--warmup',
        str(args.warmup), '--out', out
    ]
    if row != 'stage2-ddp':  # no decoders in stage 1 (and the counter needs gathered weights)
        cmd.append('--no-flop-count')
    start = time.time()
    try:
        proc = subprocess.run(
            cmd,
            cwd=args.work_dir,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            env=dict(os.environ, PYTHONPATH=REPO))
    except subprocess.TimeoutExpired:
        return dict(row=row, error=f'timed out after {args.timeout} s')
    if proc.returncode != 0 or not osp.isfile(out):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        reason = 'out of memory' if 'OutOfMemory' in proc.stderr else ' / '.join(tail)[-300:]
        return dict(row=row, error=reason, seconds=time.time() - start)
    with open(out) as f:
        return dict(json.load(f), row=row, seconds=time.time() - start)


def msda_check(iters: int = 10) -> dict:
    """mmcv's CUDA MultiScaleDeformableAttention kernel against its PyTorch path."""
    import torch
    from mmcv.ops.multi_scale_deform_attn import (MultiScaleDeformableAttnFunction,
                                                  multi_scale_deformable_attn_pytorch)
    if not torch.cuda.is_available():
        return dict(row='msda', error='no CUDA device')
    torch.manual_seed(0)
    # Grounding DINO-T on an 800x1333 input: 4 levels at strides 8-64, 900 queries, 8 heads x 32
    shapes = torch.tensor([[100, 167], [50, 84], [25, 42], [13, 21]], device='cuda')
    start_index = torch.cat([shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]).cumsum(0)[:-1]])
    num_value, batch, heads, dims, queries, points = int((shapes[:, 0] * shapes[:, 1]).sum()), \
        2, 8, 32, 900, 4
    value = torch.rand(batch, num_value, heads, dims, device='cuda', requires_grad=True)
    locations = torch.rand(batch, queries, heads, 4, points, 2, device='cuda', requires_grad=True)
    weights = torch.rand(batch, queries, heads, 4, points, device='cuda').softmax(-1)
    weights.requires_grad_(True)

    def run(kernel: bool):
        if kernel:
            out = MultiScaleDeformableAttnFunction.apply(value, shapes, start_index, locations,
                                                         weights, 64)
        else:
            out = multi_scale_deformable_attn_pytorch(value, shapes, locations, weights)
        grads = torch.autograd.grad(out.sum(), (value, locations, weights))
        return out, grads

    results = {}
    for kernel in (True, False):
        run(kernel)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            out = run(kernel)
        torch.cuda.synchronize()
        results[kernel] = (out, (time.perf_counter() - start) / iters)
    (k_out, k_grads), k_time = results[True]
    (p_out, p_grads), p_time = results[False]
    grad_diff = max(float((a - b).abs().max()) for a, b in zip(k_grads, p_grads))
    return dict(
        row='msda',
        out_max_abs_diff=float((k_out - p_out).abs().max()),
        grad_max_abs_diff=grad_diff,
        cuda_ms=k_time * 1e3,
        pytorch_ms=p_time * 1e3)


def format_table(rows: List[dict]) -> str:
    """The one table of the check."""
    lines = [
        '| row | step s | tokens/s | samples/s | peak GiB | TFLOP/step | MFU | note |',
        '|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['row']} | - | - | - | - | - | - | {r['error']} |")
        elif 'planned' in r:
            lines.append(f"| {r['row']} | - | - | - | - | - | - | dry run: {r['planned']} |")
        elif r['row'] == 'msda':
            lines.append(
                f"| msda | CUDA {r['cuda_ms']:.2f} ms / PyTorch {r['pytorch_ms']:.2f} ms | - | - "
                f"| - | - | - | max diff out {r['out_max_abs_diff']:.2e}, grads "
                f"{r['grad_max_abs_diff']:.2e} |")
        else:
            mfu_text = f"{r['mfu'] * 100:.1f} %" if r.get('mfu') is not None else 'n/a'
            lines.append(f"| {r['row']} | {r['step_seconds']:.3f} | {r['tokens_per_s']:.0f} | "
                         f"{r['samples_per_s']:.2f} | {r['peak_mem_mib'] / 1024:.1f} | "
                         f"{r['step_tflop']:.1f} | {mfu_text} | {r.get('strategy')} |")
    return '\n'.join(lines)


def main(argv=None) -> Optional[List[dict]]:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    sys.path.insert(0, REPO)
    from mmvisionllm.utils import register_all_modules
    register_all_modules()
    tokenizer = osp.join(args.work_dir, 'data', 'shapesworld', 'tokenizer')
    if not osp.isdir(tokenizer):
        subprocess.run([
            sys.executable,
            osp.join(REPO, 'tools', 'misc',
                     'generate_shapesworld.py'), '--out-dir', 'data/shapesworld', '--num-train',
            '64', '--num-val', '4', '--img-size', '512', '--no-progress'
        ],
                       cwd=args.work_dir,
                       check=True)
    configs = build_configs(args.work_dir, args.batch_size)
    rows = []
    for row in (r for r in args.rows if r in configs):
        path = osp.join(args.work_dir, f'{row}_config.py')
        configs[row].dump(path)
        if args.dry_run:
            counts = meta_parameters(configs[row])
            strategy = configs[row].get('strategy', {}).get('type', 'DDP')
            rows.append(
                dict(
                    row=row,
                    planned=f"{strategy}, {counts['total'] / 1e9:.2f} B "
                    f"params, {counts['trainable'] / 1e9:.3f} B trainable"))
        else:
            rows.append(run_row(row, path, args))
    if 'msda' in args.rows:
        rows.append(
            dict(row='msda', planned='mmcv CUDA kernel vs PyTorch') if args.dry_run else msda_check(
            ))
    print(format_table(rows))
    with open(osp.join(args.work_dir, 'gpu_check.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    return rows


if __name__ == '__main__':
    main()
