"""Write a grid PNG of prompts and the images a VisionLLMv2 generates (or edits) for them.

Each prompt is sent through the free-running chat (``mmvisionllm.apis.VisionLLMInferencer``): the
LLM answers, and when it emits ``[GEN]`` / ``[EDIT]`` the decoder draws the image. One cell per
prompt: the image (blank if the model did not route to an image decoder) above the prompt and the
answer.

Examples::

    python tools/analysis_tools/gen_grid.py \
        configs/visionllmv2/visionllmv2_tiny_gen_shapesworld.py work_dirs/gen/iter_6000.pth \
        --prompts "Draw a large red circle." "Draw a small blue star above a large green square." \
        --out work_dirs/gen/grid.png
    python tools/analysis_tools/gen_grid.py \
        configs/visionllmv2/visionllmv2_tiny_edit_shapesworld.py work_dirs/edit/iter_6000.pth \
        --image data/shapesworld/images/val/000000.png \
        --prompts "Please edit the image: make the circle green." --out work_dirs/edit/grid.png

Reused: the inferencer/chat API for generation, mmcv's image I/O and OpenCV's text drawing.
"""
import argparse
import textwrap
from typing import List, Optional, Sequence

import cv2
import numpy as np

__all__ = ['make_grid', 'generate_images', 'main']


def make_grid(images: Sequence[Optional[np.ndarray]],
              captions: Sequence[str],
              cell: int = 192,
              columns: int = 4,
              text_lines: int = 4) -> np.ndarray:
    """Tile images with captions under them.

    Args:
        images (Sequence[np.ndarray | None]): [H, W, 3] uint8 RGB images (None: a grey cell).
        captions (Sequence[str]): One text per image (wrapped to the cell width).
        cell (int): Side of each image cell in pixels.
        columns (int): Cells per row.
        text_lines (int): Lines of caption text under each image.

    Returns:
        np.ndarray: The [H, W, 3] uint8 RGB grid.
    """
    if len(images) != len(captions):
        raise ValueError('make_grid() needs one caption per image')
    line_h = 14
    text_h = text_lines * line_h + 6
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    grid = np.full((rows * (cell + text_h), columns * cell, 3), 255, np.uint8)
    chars = max(8, cell // 7)
    for i, (image, caption) in enumerate(zip(images, captions)):
        y, x = (i // columns) * (cell + text_h), (i % columns) * cell
        if image is None:
            tile = np.full((cell, cell, 3), 200, np.uint8)
        else:
            tile = cv2.resize(image, (cell, cell), interpolation=cv2.INTER_NEAREST)
        grid[y:y + cell, x:x + cell] = tile
        for j, line in enumerate(textwrap.wrap(caption, chars)[:text_lines]):
            cv2.putText(grid, line, (x + 3, y + cell + line_h * (j + 1)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return grid


def generate_images(inferencer,
                    prompts: Sequence[str],
                    image: Optional[np.ndarray] = None) -> List[tuple]:
    """Chat once per prompt; return ``(pred_image [H, W, 3] uint8 | None, answer text)`` pairs."""
    results = []
    for prompt in prompts:
        reply = inferencer.chat(image, prompt)[0]
        generated = None
        for link in reply.links:
            if link.prediction is not None and 'pred_image' in link.prediction:
                generated = link.prediction.pred_image.permute(1, 2, 0).cpu().numpy()
                break
        results.append((generated, reply.text))
    return results


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Grid of prompts and generated/edited images')
    parser.add_argument('config', help='VisionLLMv2 config with a gen and/or edit decoder')
    parser.add_argument('checkpoint', nargs='?', default=None, help='model checkpoint')
    parser.add_argument('--prompts', nargs='*', default=[], help='prompts, one per cell')
    parser.add_argument('--prompt-file', help='text file with one prompt per line')
    parser.add_argument('--image', help='source image (editing): shown in the first cell')
    parser.add_argument('--out', required=True, help='output PNG path')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--steps', type=int, help='override test_cfg.num_inference_steps')
    parser.add_argument('--guidance', type=float, help='override test_cfg.guidance_scale')
    parser.add_argument('--seed', type=int, help='override test_cfg.seed')
    parser.add_argument('--cell', type=int, default=192, help='cell size in pixels')
    parser.add_argument('--columns', type=int, default=4)
    return parser.parse_args(argv)


def main(argv=None) -> str:
    """Run the tool; returns the written path."""
    args = parse_args(argv)
    prompts = list(args.prompts)
    if args.prompt_file:
        with open(args.prompt_file) as f:
            prompts += [line.strip() for line in f if line.strip()]
    if not prompts:
        raise SystemExit('give --prompts or --prompt-file')
    import mmcv

    from mmvisionllm.apis import VisionLLMInferencer
    inferencer = VisionLLMInferencer(args.config, args.checkpoint, device=args.device)
    for decoder in inferencer.model.decoders.values():
        test_cfg = getattr(decoder, 'test_cfg', None)
        if not isinstance(test_cfg, dict):
            continue
        for key, value in (('num_inference_steps', args.steps), ('guidance_scale', args.guidance),
                           ('seed', args.seed)):
            if value is not None:
                test_cfg[key] = value
    source = None if args.image is None else mmcv.imread(args.image, channel_order='rgb')
    results = generate_images(inferencer, prompts, source)
    images = [img for img, _ in results]
    captions = [f'{p} -> {text}' for p, (_, text) in zip(prompts, results)]
    if source is not None:
        images, captions = [source] + images, ['source image'] + captions
    grid = make_grid(images, captions, cell=args.cell, columns=args.columns)
    mmcv.imwrite(grid[..., ::-1], args.out)  # creates the folder
    print(f'wrote {args.out} ({len(prompts)} prompts)')
    return args.out


if __name__ == '__main__':
    main()
