"""Convert COCO instances / MDETR-style referring expressions to ODVG (mmdet's grounding format).

    # detection: OD jsonl + label map (labels contiguous in the order of "categories")
    python tools/dataset_converters/to_odvg.py od $ROOT/annotations/instances_train.json \
        $ROOT/odvg/instances_train_od.jsonl --label-map $ROOT/odvg/instances_label_map.json
    # grounding: VG jsonl, one line per expression
    python tools/dataset_converters/to_odvg.py vg $ROOT/annotations/refexp_train.json \
        $ROOT/odvg/refexp_train_vg.jsonl

(ROOT=data/shapesworld).

The output is what ``mmdet.ODVGDataset`` reads (``label_map_file`` for OD). A malformed record is
an error naming the file and the record; nothing is dropped silently
(:mod:`mmvisionllm.datasets.odvg_export`).
"""
import argparse
import os.path as osp

from mmvisionllm.datasets.odvg_export import export_coco_odvg, export_refexp_odvg


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('mode', choices=('od', 'vg'), help='od: COCO instances; vg: refexps')
    parser.add_argument('src', help='COCO instances json (od) or MDETR-style refexp json (vg)')
    parser.add_argument('dst', help='output ODVG jsonl')
    parser.add_argument(
        '--label-map', help='od: output label map json (default: DST with _label_map.json)')
    parser.add_argument(
        '--skip-crowd',
        action='store_true',
        help='od: leave iscrowd=1 annotations out (they are an error otherwise)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.mode == 'od':
        label_map = args.label_map or osp.splitext(args.dst)[0] + '_label_map.json'
        summary = export_coco_odvg(args.src, args.dst, label_map, skip_crowd=args.skip_crowd)
        print(f'{args.dst}: {summary["records"]} images, {summary["instances"]} instances '
              f'({summary["skipped_crowd"]} crowd annotations left out); label map {label_map}')
    else:
        if args.label_map or args.skip_crowd:
            raise SystemExit('--label-map and --skip-crowd are options of od')
        summary = export_refexp_odvg(args.src, args.dst)
        print(f'{args.dst}: {summary["records"]} expressions, {summary["regions"]} regions')


if __name__ == '__main__':
    main()
