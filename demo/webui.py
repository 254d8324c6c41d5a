"""A web chat with a VisionLLM v2 (Gradio): upload an image, talk about it over several turns, ask
about a region, see the answer drawn and which decoder the model chose.

    python demo/webui.py [CONFIG] [--weights CKPT] [--host 127.0.0.1] [--port 7860]
    make webui                       # the demo config and work_dirs/demo/last_checkpoint

Without ``--weights`` the checkpoint named by ``work_dirs/demo/last_checkpoint`` is used when it
exists (``make demo`` writes it), else the model keeps its random weights (the page says so).
The server listens on 127.0.0.1 unless ``--host`` says otherwise.

Reused: Gradio's Blocks, Chatbot, File, ImageEditor (its brush layer is the region prompt: the
painted pixels are the mask) and Image components; the answers, drawings and input checks are
:class:`VisionLLMInferencer`'s, so a file that is not an image, a truncated one, an empty
prompt or a box outside the image gives a message in the chat and the app keeps serving.
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import List, Optional, Tuple

import numpy as np

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # no calls home

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')
DEMO_POINTER = osp.join('work_dirs', 'demo', 'last_checkpoint')
EXAMPLES = [
    'Please detect the following objects in the image: person, circle, square, triangle, star, '
    'cross.',
    'Please detect the keypoints of every person in the image. The keypoints are head, neck, '
    'left_hand, right_hand, hip, left_foot, right_foot.',
    'How many circles are there?\nAnswer the question using a single word or phrase.',
    'What is this <region>?',
    'Please generate an image of a small red star.',
]

__all__ = ['build_app', 'default_checkpoint', 'parse_box', 'region_from_editor', 'main']


def default_checkpoint(pointer: str = DEMO_POINTER) -> Optional[str]:
    """The checkpoint that ``make demo``'s ``last_checkpoint`` names, if both exist."""
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def parse_box(text: str) -> Optional[List[float]]:
    """``'x1 y1 x2 y2'`` (commas allowed) -> 4 floats; empty -> None; else a ValueError."""
    if not text or not text.strip():
        return None
    values = [v for v in re.split(r'[\s,;]+', text.strip()) if v]
    try:
        box = [float(v) for v in values]
    except ValueError:
        box = []
    if len(box) != 4:
        raise ValueError(f'a region box is 4 numbers "x1 y1 x2 y2", got {text!r}')
    return box


def region_from_editor(value, shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """The pixels painted on the ImageEditor's layers as a bool mask [H, W] of the image (None
    when nothing is painted)."""
    if not isinstance(value, dict):
        return None
    painted = None
    for layer in value.get('layers') or []:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[-1] == 4:
            mask = layer[..., 3] > 0
            painted = mask if painted is None else (painted | mask)
    if painted is None or not painted.any():
        return None
    if painted.shape != tuple(shape):
        import cv2
        painted = cv2.resize(
            painted.astype(np.uint8), (shape[1], shape[0]),
            interpolation=cv2.INTER_NEAREST).astype(bool)
    return painted


def _decoder_text(record: dict) -> str:
    turn = record['turns'][-1]
    if not turn['decoders']:
        return 'Decoder chosen: **none** (a text answer)'
    tokens = sorted({o['routing_token'] for o in turn['outputs']})
    parts = []
    for output in turn['outputs']:
        item = f'`{output["routing_token"]}` "{output["target_name"]}"'
        if 'error' in output:
            item += f': not decoded ({output["error"]})'
        elif 'bboxes' in output:
            item += f': {len(output["bboxes"])} boxes'
        elif 'image' in output:
            item += ': an image'
        parts.append(item)
    return (f'Decoder chosen: **{", ".join(turn["decoders"])}** (routing tokens '
            f'{" ".join(tokens)})\n\n' + '\n'.join(f'- {p}' for p in parts))


def build_app(inferencer, title: str = 'VisionLLM v2 chat', note: str = ''):
    """The Gradio Blocks app around ``inferencer`` (a :class:`VisionLLMInferencer`)."""
    import gradio as gr

    from mmvisionllm.apis.image_inputs import read_image_file

    def load(file):
        """Upload -> (state, editor value, status, chat, upload box); a new image starts a new
        conversation; the upload box is emptied for the next file."""
        fresh = dict(image=None, name=None, history=[], regions=[])
        if file is None:
            return fresh, None, '', [], None
        path = file if isinstance(file, str) else getattr(file, 'name', str(file))
        name = osp.basename(path)
        try:
            rgb = read_image_file(path)
        except (OSError, ValueError) as error:
            message = str(error).replace(path, name)  # the server's temporary path says nothing
            return fresh, None, f'**Cannot use {name}:** {message}', [], None
        fresh.update(image=rgb, name=name)
        editor = dict(background=rgb, layers=[], composite=rgb)
        height, width = rgb.shape[:2]
        return fresh, editor, f'Loaded {name} ({width}x{height}).', [], None

    def send(message, editor, box_text, state, messages):
        messages = list(messages or [])
        message = message or ''
        messages.append(dict(role='user', content=message))
        try:
            regions = []
            if state['image'] is not None:
                box = parse_box(box_text)
                mask = region_from_editor(editor, state['image'].shape[:2])
                regions = [r for r in (box, mask) if r is not None]
            elif box_text and box_text.strip():
                raise ValueError('a region needs an image: upload one first')
            missing = len(regions) - message.count('<region>')
            if missing > 0 and message.strip():
                message = message.rstrip() + ' ' + ' '.join(['<region>'] * missing)
            turns = [dict(t) for t in state['history']] + [{'from': 'human', 'value': message}]
            all_regions = list(state['regions']) + regions
            result = inferencer(state['image'], turns, regions=all_regions, return_vis=True)
        except (OSError, ValueError) as error:
            messages.append(dict(role='assistant', content=f'⚠️ {error}'))
            return messages, gr.update(), f'⚠️ {error}', state, ''
        record = result['predictions'][0]
        answer = record['turns'][-1]['answer']
        messages.append(dict(role='assistant', content=answer or '(empty answer)'))
        state = dict(state, history=turns + [{'from': 'gpt', 'value': answer}], regions=all_regions)
        return messages, result['visualization'][0], _decoder_text(record), state, ''

    with gr.Blocks(title=title) as app:
        gr.Markdown(f'## {title}\n{note}')
        state = gr.State(dict(image=None, name=None, history=[], regions=[]))
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label='Upload an image', file_types=['image'], elem_id='upload')
                status = gr.Markdown(elem_id='status')
                editor = gr.ImageEditor(
                    label='Your image: brush over a region to ask about it',
                    type='numpy',
                    sources=[],
                    elem_id='editor')
                box = gr.Textbox(label='or a region box: x1 y1 x2 y2 (image pixels)', elem_id='box')
            with gr.Column(scale=1):
                chatbot = gr.Chatbot(label='Conversation', elem_id='chatbot', height=360)
                message = gr.Textbox(
                    label='Message', placeholder=EXAMPLES[0], elem_id='message', lines=2)
                with gr.Row():
                    send_button = gr.Button('Send', variant='primary', elem_id='send')
                    clear = gr.Button('New conversation', elem_id='clear')
                gr.Examples(EXAMPLES, inputs=message, label='Try')
        decoder = gr.Markdown(elem_id='decoder')
        drawing = gr.Image(
            label='The answer drawn', type='numpy', interactive=False, elem_id='drawing')
        upload.upload(load, [upload], [state, editor, status, chatbot, upload])
        outputs = [chatbot, drawing, decoder, state, message]
        send_button.click(send, [message, editor, box, state, chatbot], outputs)
        message.submit(send, [message, editor, box, state, chatbot], outputs)
        clear.click(lambda s: (dict(s, history=[], regions=[]), [], None, ''), [state],
                    [state, chatbot, drawing, decoder])
    return app


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Web chat with a VisionLLM v2')
    parser.add_argument('config', nargs='?', default=DEMO_CONFIG)
    parser.add_argument(
        '--weights',
        default=None,
        help=f'checkpoint (default: the one {DEMO_POINTER} names, if any)')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmvisionllm.apis import VisionLLMInferencer
    weights = args.weights or default_checkpoint()
    note = (f'Checkpoint: `{weights}`' if weights else
            '**No checkpoint: random weights** (run `make demo`, or pass `--weights`).')
    print(f'config {args.config}; {note}', file=sys.stderr)
    inferencer = VisionLLMInferencer(args.config, weights, device=args.device)
    build_app(inferencer, note=note).launch(server_name=args.host, server_port=args.port)


if __name__ == '__main__':
    main()
