"""Print the metrics of the detection-decoder learning test for one seed and kernel setting.

The fast test ``test_detection_overfit.py::test_decoder_learns_two_scenes`` trains the decoder alone
on 2 scenes for 100 steps; its result moves with the CPU's math kernels. This tool runs the same
``overfit`` and prints one JSON line, so the spread can be measured, e.g.::

    for cap in avx512 avx2 default; do
        ATEN_CPU_CAPABILITY=$cap python tools/analysis_tools/detection_overfit_spread.py --seed 0
    done
    python tools/analysis_tools/detection_overfit_spread.py --seed 0 --no-mkldnn

(``ATEN_CPU_CAPABILITY`` picks PyTorch's vectorised kernels at start-up; ``--no-mkldnn`` turns
oneDNN off.) Figures: docs/en/results.md, "How much the figures move between machines".
"""
import argparse
import importlib.util
import json
import os.path as osp
import pathlib
import sys
import tempfile

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEST_DIR = osp.join(REPO_ROOT, 'tests', 'test_models', 'test_decoders')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=0, help='scenes and initialisation seed')
    parser.add_argument('--no-mkldnn', action='store_true', help='turn oneDNN off')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (the test uses 1)')
    args = parser.parse_args()
    sys.path[:0] = [TEST_DIR]  # the test module imports its scene helpers by name
    from mmvisionllm.utils import register_all_modules
    register_all_modules()
    spec = importlib.util.spec_from_file_location('test_detection_overfit',
                                                  osp.join(TEST_DIR, 'test_detection_overfit.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        _, after = module.overfit(
            num_scenes=2, size=64, iterations=100, tmp_path=pathlib.Path(tmp), seed=args.seed)
    print(
        json.dumps(
            dict(
                seed=args.seed,
                mkldnn=not args.no_mkldnn,
                capability=torch.backends.cpu.get_cpu_capability(),
                threads=args.threads,
                bbox_mAP=after['coco/bbox_mAP'],
                segm_mAP=after['coco/segm_mAP'],
                rec_p1=after['refexp/refcoco_precision@1'])))


if __name__ == '__main__':
    main()
