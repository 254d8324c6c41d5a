"""demo_report.py's table: a figure beats its chance level only as printed (3 decimals)."""
from tool_loader import load_tool


def _verdicts(metrics):
    report = load_tool('analysis_tools/demo_report.py')
    rows = report.metrics_table(metrics).splitlines()[2:]
    return {row.split(' | ')[0].lstrip('| '): row.split(' | ')[3] for row in rows}


def test_better_than_chance_at_the_printed_precision():
    verdicts = _verdicts({
        'zero': 0.0,
        'pose/AP': 0.00011,
        'det/bbox_mAP': 0.0011,
        'gen/pixel_fd': 1.6496,
        'gen/pixel_fd_mean_image': 1.6504,  # both print as 1.650
        'edit/l1': 0.0081,
        'edit/source_l1': 0.0094
    })
    assert verdicts['keypoint AP (pose)'] == 'NO'  # 0.000 is not above 0
    assert verdicts['box AP (det)'] == 'yes'  # 0.001
    assert verdicts['generation pixel FD'] == 'NO'  # lower is better, but equal as printed
    assert verdicts['edit L1'] == 'yes'
    assert 'mask AP (seg)' not in verdicts  # rows without a figure are left out


def test_caption_chance_is_the_higher_of_constant_and_shuffled():
    report = load_tool('analysis_tools/demo_report.py')
    levels = report.caption_chance_levels({
        'chance/caption_constant_cider': 0.98,
        'caption/cider_shuffled': 0.5,
        'chance/caption_constant_bleu4': 0.41,
        'caption/bleu4_shuffled': 0.45
    })
    assert levels == {'chance/caption_cider': 0.98, 'chance/caption_bleu4': 0.45}
    assert report.caption_chance_levels({'chance/caption_constant_cider': 0.9}) == {
        'chance/caption_cider': 0.9
    }
