"""Side-by-side table of the generalist's and the specialists' test metrics, with ratios.

Reads the ``test_metrics.json`` that ``tools/test.py`` writes into each work dir and prints (and
with ``--out``, writes) a Markdown table::

    python tools/analysis_tools/compare_baselines.py --generalist work_dirs/demo \
        --specialist det=work_dirs/dino_tiny --specialist pose=work_dirs/pose_tiny --out table.md

A row is ``label|generalist metric key|specialist name|specialist metric key``; the defaults cover
the ShapesWorld configs of this repository and ``--row`` replaces them. A default row with neither
value is left out (e.g. mask AP of a detection-only run). A ``--specialist`` that no row names, and
a given ``--row`` whose metric the generalist or its given specialist lacks, are errors: a
mistyped key or name cannot shorten the table unnoticed.
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Optional

DEFAULT_ROWS = [
    'box AP|det/bbox_mAP|det|coco/bbox_mAP',
    'box AP50|det/bbox_mAP_50|det|coco/bbox_mAP_50',
    'mask AP|seg/segm_mAP|seg|coco/segm_mAP',
    'REC P@0.5|grd/refcoco_precision@1|grd|refexp/refcoco_precision@1',
    'keypoint AP|pose/AP|pose|coco/AP',
]


def load_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics ``tools/test.py`` wrote into ``work_dir``."""
    path = osp.join(work_dir, 'test_metrics.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: run tools/test.py with --work-dir {work_dir}')
    with open(path) as f:
        return json.load(f)


def format_value(value: Optional[float]) -> str:
    return '—' if value is None else f'{value:.3f}'


def build_table(generalist: Dict[str, float],
                specialists: Dict[str, Dict[str, float]],
                rows: List[str],
                skip_empty_rows: bool = True) -> str:
    """Markdown table: one line per row whose generalist or specialist value exists.

    Args:
        generalist (dict): The generalist's metrics.
        specialists (dict): Specialist name -> its metrics.
        rows (list[str]): ``label|gen_key|specialist|spec_key`` rows.
        skip_empty_rows (bool): Leave out rows with neither value (the defaults). False (rows
            given by the user) raises for a metric missing on either side.

    Returns:
        str: The Markdown table.
    """
    lines = ['| metric | generalist | specialist | generalist / specialist |', '|---|---|---|---|']
    parsed = []
    for row in rows:
        try:
            parsed.append(tuple(row.split('|')))
            label, gen_key, spec_name, spec_key = parsed[-1]
        except ValueError:
            raise ValueError(f'bad row {row!r}: expected "label|gen_key|specialist|spec_key"')
    unused = sorted(set(specialists) - {spec_name for _, _, spec_name, _ in parsed})
    if unused:
        raise ValueError(f'no row compares with specialist(s) {unused}; rows name '
                         f'{sorted({spec_name for _, _, spec_name, _ in parsed})}')
    for label, gen_key, spec_name, spec_key in parsed:
        gen = generalist.get(gen_key)
        spec = specialists.get(spec_name, {}).get(spec_key)
        if not skip_empty_rows and gen is None:
            raise ValueError(f'the generalist has no metric {gen_key!r} (row {label!r}); it has '
                             f'{sorted(generalist)}')
        if not skip_empty_rows and spec_name in specialists and spec is None:
            raise ValueError(f'specialist {spec_name!r} has no metric {spec_key!r} (row '
                             f'{label!r}); it has {sorted(specialists[spec_name])}')
        if gen is None and spec is None:  # a default row this run does not have
            continue
        ratio = '—' if gen is None or not spec else f'{gen / spec:.2f}'
        lines.append(f'| {label} | {format_value(gen)} | {format_value(spec)} | {ratio} |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--generalist', required=True, help='work dir of the generalist test')
    parser.add_argument(
        '--specialist',
        action='append',
        default=[],
        metavar='NAME=WORK_DIR',
        help='a specialist test work dir, e.g. det=work_dirs/dino_tiny')
    parser.add_argument(
        '--row',
        action='append',
        metavar='LABEL|GEN_KEY|NAME|SPEC_KEY',
        help='a table row (repeatable); replaces the defaults')
    parser.add_argument('--out', help='also write the table to this Markdown file')
    args = parser.parse_args()

    specialists = {}
    for item in args.specialist:
        name, sep, work_dir = item.partition('=')
        if not sep:
            parser.error(f'--specialist {item!r}: expected NAME=WORK_DIR')
        specialists[name] = load_metrics(work_dir)
    try:
        table = build_table(
            load_metrics(args.generalist),
            specialists,
            args.row or DEFAULT_ROWS,
            skip_empty_rows=not args.row)
    except ValueError as error:
        parser.error(str(error))
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table)


if __name__ == '__main__':
    main()
