"""Generate the ShapesWorld benchmark (see docs/en/architecture.md section 5).

Example:
    python tools/misc/generate_shapesworld.py --out-dir data/shapesworld --seed 0 \
        --num-train 2000 --num-val 200
"""
import argparse
import json
import os.path as osp
import time

from mmvisionllm.datasets.shapesworld import generate_shapesworld
from mmvisionllm.datasets.shapesworld.generator import GENERATOR_VERSION, STAMP_FILE


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
    parser.add_argument(
        '--reuse',
        action='store_true',
        help=f'do nothing if OUT_DIR/{STAMP_FILE} records a generation with the same arguments '
        'and generator version; otherwise regenerate (implies --overwrite)')
    return parser.parse_args()


def generation_record(args: argparse.Namespace) -> dict:
    """What identifies a generated copy: the generator version and the arguments."""
    return dict(
        version=GENERATOR_VERSION,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size)


def read_record(out_dir: str) -> dict:
    path = osp.join(out_dir, STAMP_FILE)
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def main() -> None:
    """Parse the arguments, generate, print a summary."""
    args = parse_args()
    record = generation_record(args)
    if args.reuse and read_record(args.out_dir) == record:
        print(f'{args.out_dir} already holds this generation ({record}); reusing it')
        return
    start = time.perf_counter()
    summary = generate_shapesworld(
        args.out_dir,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        overwrite=args.overwrite or args.reuse,
        show_progress=not args.no_progress)
    with open(osp.join(args.out_dir, STAMP_FILE), 'w') as f:
        json.dump(record, f, indent=2, sort_keys=True)
    print(json.dumps(summary, indent=2, sort_keys=True))
    print(f'Wrote {args.out_dir} in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
