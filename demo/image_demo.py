"""Ask a VisionLLM v2 about your own images (mmdet's ``demo/image_demo.py``, with a prompt).

    python demo/image_demo.py IMAGE [IMAGE ...] "PROMPT" CONFIG --weights CKPT --out-dir DIR
    python demo/image_demo.py IMAGE CONFIG --weights CKPT          # interactive terminal chat

IMAGE is a file or a folder (its images); any size, aspect ratio and mode (grey, RGBA, 16-bit,
palette, EXIF-rotated: :mod:`mmvisionllm.apis.image_inputs`). Each image is answered on its own;
one that cannot be read is reported (its name and why) and the others go on; the exit status is
1 when any failed. ``DIR/vis/<name>.png`` is the drawing (input, the decoders' boxes / masks /
keypoints or generated image, the conversation), ``DIR/preds/<name>.json`` the answer and the
decoder outputs. ``--region x1 y1 x2 y2`` gives a box for each ``<region>`` of the prompt.

Interactive chat (no PROMPT): type a message; ``/box x1 y1 x2 y2`` sets a region for the next
message (``<region>`` is added to it when missing), ``/image PATH`` switches the image and starts
a new conversation, ``/reset`` forgets the conversation, ``/quit`` (or end of input) leaves.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

from mmengine.config import Config, DictAction

from mmvisionllm.apis import VisionLLMInferencer
from mmvisionllm.apis.image_inputs import IMAGE_EXTENSIONS

__all__ = ['parse_args', 'split_positionals', 'summarise', 'main']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Ask a VisionLLM v2 about images',
        usage='%(prog)s IMAGE [IMAGE ...] ["PROMPT"] CONFIG --weights CKPT [options]')
    parser.add_argument(
        'positionals',
        nargs='+',
        metavar='IMAGE... [PROMPT] CONFIG',
        help='image files / folders, the prompt (omit it to chat), the config')
    parser.add_argument('--weights', default=None, help='checkpoint of the model')
    parser.add_argument('--out-dir', default='outputs', help='where drawings and predictions go')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--pred-score-thr', type=float, default=0.3)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--region',
        type=float,
        nargs=4,
        action='append',
        default=[],
        metavar=('X1', 'Y1', 'X2', 'Y2'),
        help='a box for a <region> of the prompt (repeat for several)')
    parser.add_argument('--no-save-vis', action='store_true')
    parser.add_argument('--no-save-pred', action='store_true')
    parser.add_argument('--print-result', action='store_true')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.max_new_tokens=32')
    return parser.parse_args(argv)


def _looks_like_path(text: str) -> bool:
    return osp.exists(text) or (' ' not in text.strip() and text.lower().endswith(IMAGE_EXTENSIONS))


def split_positionals(positionals: Sequence[str]):
    """``IMAGE... [PROMPT] CONFIG`` -> (images, prompt or None, config): the last item is the
    config; an item before it that is neither an existing path nor a file name with an image
    extension is the prompt."""
    if len(positionals) < 2 or not positionals[-1].endswith('.py'):
        raise SystemExit('usage: image_demo.py IMAGE [IMAGE ...] ["PROMPT"] CONFIG.py '
                         '--weights CKPT (the last argument must be the config file)')
    *rest, config = positionals
    prompt = None
    if len(rest) > 1 and not _looks_like_path(rest[-1]):
        *rest, prompt = rest
    elif len(rest) == 1 and not _looks_like_path(rest[0]):
        raise SystemExit(f'no image given ({rest[0]!r} is not a file): image_demo.py IMAGE '
                         '[IMAGE ...] ["PROMPT"] CONFIG.py')
    return list(rest), prompt, config


def summarise(turn: dict) -> List[str]:
    """Readable lines of one answered turn (prediction record of the inferencer)."""
    lines = [
        f'  answer: {turn["answer"]}',
        '  decoder: ' + (', '.join(turn['decoders']) or 'none (text answer)')
    ]
    for output in turn['outputs']:
        what = f'  {output["routing_token"]} "{output["target_name"]}": '
        if 'error' in output:
            what += f'not decoded ({output["error"]})'
        elif 'image' in output or 'image_file' in output:
            what += 'an image' + (f' ({output["image_file"]})' if 'image_file' in output else '')
        elif 'keypoints' in output:
            what += f'{len(output["keypoints"])} poses'
        elif 'bboxes' in output:
            boxes = output['bboxes']
            what += f'{len(boxes)} boxes' + (
                f', best {[round(v) for v in boxes[0]]} score {output["scores"][0]:.2f}'
                if boxes else '')
        lines.append(what)
    return lines


def _answer(inferencer, image, messages, regions, args) -> Optional[dict]:
    """One image's answer, or None after printing why it could not be read."""
    try:
        result = inferencer(
            image,
            messages,
            regions=regions,
            pred_score_thr=args.pred_score_thr,
            out_dir=args.out_dir,
            no_save_vis=args.no_save_vis,
            no_save_pred=args.no_save_pred,
            print_result=args.print_result)
    except (OSError, ValueError) as error:  # FileNotFoundError, ImageInputError, bad prompts
        print(f'{image}: cannot answer: {error}', file=sys.stderr)
        return None
    return result['predictions'][0]


def _report(record: dict, args) -> None:
    size = 'x'.join(str(v) for v in reversed(record['image_size'])) if record['image_size'] \
        else 'no image'
    print(f'{record["image"] or record["name"]} ({size}):')
    for line in summarise(record['turns'][-1]):
        print(line)
    if not args.no_save_vis:
        print(f'  drawing: {osp.join(args.out_dir, "vis", record["name"] + ".png")}')


def run_prompt(inferencer, images: Sequence[str], prompt: str, args) -> int:
    failed = 0
    for image in VisionLLMInferencer._inputs_to_list(list(images)) if images else [None]:
        record = _answer(inferencer, image, prompt, [list(b) for b in args.region], args)
        if record is None:
            failed += 1
            continue
        _report(record, args)
    return 1 if failed else 0


def run_chat(inferencer, image: Optional[str], args, stdin=sys.stdin) -> int:
    """The interactive terminal chat (see the module docstring)."""
    history: list = []
    regions: list = []
    print('chat with the model (/box x1 y1 x2 y2, /image PATH, /reset, /quit)')
    while True:
        print('you> ', end='', flush=True)
        line = stdin.readline()
        if not line or line.strip() in ('/quit', '/exit'):
            return 0
        line = line.strip()
        if not line:
            print('(type a message, or /quit)')
            continue
        if line.startswith('/image'):
            image, history, regions = line[len('/image'):].strip() or None, [], []
            print(f'image: {image}; new conversation')
            continue
        if line == '/reset':
            history, regions = [], []
            continue
        if line.startswith('/box'):
            try:
                box = [float(v) for v in line.split()[1:]]
                assert len(box) == 4
            except (ValueError, AssertionError):
                print('usage: /box x1 y1 x2 y2')
                continue
            regions.append(box)
            print(f'region {len(regions)}: {box}')
            continue
        message = line
        missing = len(regions) - message.count('<region>')
        if missing > 0:
            message = message + ' ' + ' '.join(['<region>'] * missing)
        turns = history + [{'from': 'human', 'value': message}]
        all_regions = [r for turn in history for r in turn.get('regions', [])] + regions
        record = _answer(inferencer, image, turns, all_regions, args)
        if record is None:
            continue
        for out in summarise(record['turns'][-1]):
            print(out)
        if not args.no_save_vis:
            print(f'  drawing: {osp.join(args.out_dir, "vis", record["name"] + ".png")}')
        history = turns[:-1] + [
            dict(turns[-1], regions=regions), {
                'from': 'gpt',
                'value': record['turns'][-1]['answer']
            }
        ]
        regions = []


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    images, prompt, config = split_positionals(args.positionals)
    if not osp.isfile(config):
        raise SystemExit(f'config {config!r} does not exist')
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = VisionLLMInferencer(cfg, args.weights, device=args.device)
    if prompt is not None:
        return run_prompt(inferencer, images, prompt, args)
    if len(images) > 1:
        print('interactive chat is about one image; using the first', file=sys.stderr)
    return run_chat(inferencer, images[0] if images else None, args)


if __name__ == '__main__':
    sys.exit(main())
