"""OfficialRegionEncoder: the official layout, its conversion and its arithmetic (no reference)."""
import pytest
import torch

from mmvisionllm.models.region_encoder import OfficialRegionEncoder
from .official_layout import prefix_shapes

#: real width -> reduced width for the synthetic official tensors
_REDUCE = {4096: 32, 1024: 16, 256: 32, 64: 8}


def _official_shapes() -> dict:
    return prefix_shapes('region_encoder.')


def _synthetic_official(seed: int = 0) -> dict:
    """Official-layout tensors (names from the facts) at reduced width, random values."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn([_REDUCE.get(s, s) for s in shape], generator=g)
        for k, shape in _official_shapes().items()
    }


def _small(**kwargs) -> OfficialRegionEncoder:
    cfg = dict(out_channels=32, vision_channels=16, grid_size=2, stem_channels=32)
    cfg.update(kwargs)
    return OfficialRegionEncoder(**cfg)


def test_real_size_layout_is_the_official_one():
    with torch.device('meta'):
        encoder = OfficialRegionEncoder(out_channels=4096, vision_channels=1024, grid_size=24)
    ours = {k: list(v.shape) for k, v in encoder.state_dict().items()}
    assert ours == _official_shapes()
    official = {k: torch.empty(s, device='meta') for k, s in _official_shapes().items()}
    assert set(encoder.convert_official_state_dict(official)) == set(ours)


def test_converter_lists_unplaced_and_missing_keys():
    encoder = _small()
    official = _synthetic_official()
    official['mask_embedding.9.weight'] = torch.zeros(1)
    official['up_dim.bias'] = torch.zeros(7)  # wrong shape
    del official['mask_embedding.4.bias']
    with pytest.raises(KeyError) as error:
        encoder.convert_official_state_dict(official)
    for key in ('mask_embedding.9.weight', 'up_dim.bias (7,)', 'mask_embedding.4.bias'):
        assert key in str(error.value)


@torch.no_grad()
def test_single_pixel_reads_the_running_sum_of_the_levels():
    """A one-pixel mask at (y=7, x=21) of a 28-px thumbnail is read at (21/28, 7/28), i.e.
    exactly at cell (row 0, col 1) of the 2x2 grid (align_corners=False); the three levels add up
    in turn, so the mean over levels is stem + (3 f1 + 2 f2 + f3) / 3 before ``up_dim``."""
    encoder = _small().eval()
    encoder.load_state_dict(encoder.convert_official_state_dict(_synthetic_official()))
    g = torch.Generator().manual_seed(1)
    thumbnail = torch.randn(3, 28, 28, generator=g)
    levels = torch.randn(3, 4, 16, generator=g)  # [K, g*g, C_v]
    mask = torch.zeros(28, 28, dtype=torch.bool)
    mask[7, 21] = True
    out = encoder(thumbnail, levels, [mask])
    stem = encoder.mask_embedding(torch.cat([thumbnail, mask[None].float()])[None])[0, :, 0, 1]
    cell = levels[:, 1]  # row 0, col 1 of the row-major grid
    expected = encoder.up_dim(stem + (3 * cell[0] + 2 * cell[1] + cell[2]) / 3)
    torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_empty_mask_gives_the_bias_and_regions_are_independent():
    encoder = _small().eval()
    g = torch.Generator().manual_seed(2)
    thumbnail, levels = torch.randn(3, 28, 28, generator=g), torch.randn(3, 4, 16, generator=g)
    empty = torch.zeros(28, 28, dtype=torch.bool)
    box = torch.zeros(28, 28, dtype=torch.bool)
    box[3:20, 5:9] = True
    both = encoder(thumbnail, levels, [empty, box])
    torch.testing.assert_close(both[0], encoder.up_dim.bias)
    torch.testing.assert_close(both[1], encoder(thumbnail, levels, [box])[0])


def test_mask_points_all_below_the_limit_a_subset_above():
    encoder = _small(num_points=5)
    mask = torch.zeros(4, 8, dtype=torch.bool)
    mask[1, 2] = mask[3, 0] = mask[3, 6] = True
    points = encoder._mask_points(mask)  # row-major, (x / W, y / H)
    torch.testing.assert_close(points, torch.tensor([[2 / 8, 1 / 4], [0.0, 3 / 4], [6 / 8, 3 / 4]]))
    mask[:] = True  # 32 pixels > 5
    encoder.eval()
    first = encoder._mask_points(mask)
    assert first.shape == (5, 2) and torch.equal(first, encoder._mask_points(mask))
    encoder.train()
    torch.manual_seed(0)
    drawn = encoder._mask_points(mask)
    assert drawn.shape == (5, 2) and len({tuple(p.tolist()) for p in drawn}) == 5
    assert bool(((drawn * torch.tensor([8, 4])) % 1 == 0).all())  # on the pixel corners


def test_registered_with_the_mllm_interface():
    from mmvisionllm.registry import MODELS
    encoder = MODELS.build(
        dict(type='OfficialRegionEncoder'),
        default_args=dict(out_channels=32, vision_channels=16, grid_size=2, num_vision_layers=3))
    assert isinstance(encoder, OfficialRegionEncoder)
    out = encoder(torch.randn(3, 28, 28), torch.randn(3, 4, 16), [torch.ones(40, 60)])
    assert out.shape == (1, 32)
