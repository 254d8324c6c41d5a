# mmpose-style dataset metainfo of the ShapesWorld stick figures (same layout as mmpose's
# configs/_base_/datasets/coco.py). It must agree with
# mmvisionllm/datasets/shapesworld/world_spec.py (KEYPOINT_NAMES, SKELETON, KEYPOINT_SIGMAS,
# JOINT_WEIGHTS); tests/test_datasets checks that it does. "left" is the figure's own left, drawn on
# the image's right (figures face the viewer).
dataset_info = dict(
    dataset_name='shapesworld_person',
    paper_info=dict(
        author='mmvisionllm',
        title='ShapesWorld: a procedural benchmark for VisionLLM v2',
        container='mmvisionllm',
        year='2024',
        homepage='docs/en/architecture.md',
    ),
    keypoint_info={
        0: dict(name='head', id=0, color=[51, 153, 255], type='upper', swap=''),
        1: dict(name='neck', id=1, color=[51, 153, 255], type='upper', swap=''),
        2: dict(name='left_shoulder', id=2, color=[0, 255, 0], type='upper', swap='right_shoulder'),
        3:
        dict(name='right_shoulder', id=3, color=[255, 128, 0], type='upper', swap='left_shoulder'),
        4: dict(name='left_elbow', id=4, color=[0, 255, 0], type='upper', swap='right_elbow'),
        5: dict(name='right_elbow', id=5, color=[255, 128, 0], type='upper', swap='left_elbow'),
        6: dict(name='left_hand', id=6, color=[0, 255, 0], type='upper', swap='right_hand'),
        7: dict(name='right_hand', id=7, color=[255, 128, 0], type='upper', swap='left_hand'),
        8: dict(name='hip', id=8, color=[51, 153, 255], type='lower', swap=''),
        9: dict(name='left_knee', id=9, color=[0, 255, 0], type='lower', swap='right_knee'),
        10: dict(name='right_knee', id=10, color=[255, 128, 0], type='lower', swap='left_knee'),
        11: dict(name='left_foot', id=11, color=[0, 255, 0], type='lower', swap='right_foot'),
        12: dict(name='right_foot', id=12, color=[255, 128, 0], type='lower', swap='left_foot'),
    },
    skeleton_info={
        0: dict(link=('head', 'neck'), id=0, color=[51, 153, 255]),
        1: dict(link=('neck', 'left_shoulder'), id=1, color=[0, 255, 0]),
        2: dict(link=('neck', 'right_shoulder'), id=2, color=[255, 128, 0]),
        3: dict(link=('left_shoulder', 'left_elbow'), id=3, color=[0, 255, 0]),
        4: dict(link=('left_elbow', 'left_hand'), id=4, color=[0, 255, 0]),
        5: dict(link=('right_shoulder', 'right_elbow'), id=5, color=[255, 128, 0]),
        6: dict(link=('right_elbow', 'right_hand'), id=6, color=[255, 128, 0]),
        7: dict(link=('neck', 'hip'), id=7, color=[51, 153, 255]),
        8: dict(link=('hip', 'left_knee'), id=8, color=[0, 255, 0]),
        9: dict(link=('left_knee', 'left_foot'), id=9, color=[0, 255, 0]),
        10: dict(link=('hip', 'right_knee'), id=10, color=[255, 128, 0]),
        11: dict(link=('right_knee', 'right_foot'), id=11, color=[255, 128, 0]),
    },
    joint_weights=[1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.0, 1.2, 1.2, 1.5, 1.5],
    sigmas=[
        0.050, 0.040, 0.045, 0.045, 0.055, 0.055, 0.065, 0.065, 0.050, 0.060, 0.060, 0.070, 0.070
    ])
