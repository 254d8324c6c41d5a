"""Generate the ShapesWorld benchmark (see docs/en/architecture.md section 5).

Example:
    python tools/misc/generate_shapesworld.py --out-dir data/shapesworld --seed 0 \
        --num-train 2000 --num-val 200
"""
import argparse
import json
import time

from mmvisionllm.datasets.shapesworld import generate_shapesworld


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Generate the ShapesWorld benchmark')
    parser.add_argument('--out-dir', default='data/shapesworld', help='output root directory')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--num-train', type=int, default=2000, help='number of training scenes')
    parser.add_argument('--num-val', type=int, default=200, help='number of validation scenes')
    parser.add_argument('--img-size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args()


def main() -> None:
    """Parse the arguments, generate, print a summary."""
    args = parse_args()
    start = time.perf_counter()
    summary = generate_shapesworld(
        args.out_dir,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        overwrite=args.overwrite,
        show_progress=not args.no_progress)
    print(json.dumps(summary, indent=2, sort_keys=True))
    print(f'Wrote {args.out_dir} in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
