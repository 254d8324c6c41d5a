"""mmcv's compiled ops load; MultiScaleDeformableAttention runs forward and backward on CPU."""
import torch
from mmcv.ops import MultiScaleDeformableAttention, nms


def test_compiled_nms_known_answer():
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]  # box 1 overlaps box 0 with IoU 0.68 and is suppressed
    torch.testing.assert_close(dets[:, 4], torch.tensor([0.9, 0.7]))


def identity_attention(embed_dims: int) -> MultiScaleDeformableAttention:
    """One level, one point, zero offsets, identity projections: samples at the reference."""
    attn = MultiScaleDeformableAttention(
        embed_dims=embed_dims, num_heads=2, num_levels=1, num_points=1, batch_first=True)
    with torch.no_grad():
        for layer in (attn.sampling_offsets, attn.attention_weights):
            layer.weight.zero_()
            layer.bias.zero_()
        for layer in (attn.value_proj, attn.output_proj):
            layer.weight.copy_(torch.eye(embed_dims))
            layer.bias.zero_()
    return attn.eval()


def test_msda_samples_value_at_reference_points():
    embed_dims, h, w = 8, 4, 5
    attn = identity_attention(embed_dims)
    value = torch.randn(1, h * w, embed_dims)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    # normalised pixel centres: bilinear sampling there returns the pixel value exactly
    ref = torch.stack([(xs.flatten() + 0.5) / w, (ys.flatten() + 0.5) / h], -1)[None, :, None]
    out = attn(
        query=torch.zeros(1, h * w, embed_dims),
        value=value,
        identity=torch.zeros(1, h * w, embed_dims),
        reference_points=ref,
        spatial_shapes=torch.tensor([[h, w]]),
        level_start_index=torch.tensor([0]))
    torch.testing.assert_close(out, value, atol=1e-5, rtol=1e-5)


def test_msda_forward_backward():
    torch.manual_seed(0)
    embed_dims, shapes = 32, torch.tensor([[8, 8], [4, 4]])
    num_value = int(shapes.prod(1).sum())
    attn = MultiScaleDeformableAttention(
        embed_dims=embed_dims, num_heads=4, num_levels=2, num_points=4, batch_first=True)
    query = torch.randn(2, 10, embed_dims, requires_grad=True)
    value = torch.randn(2, num_value, embed_dims, requires_grad=True)
    out = attn(
        query=query,
        value=value,
        reference_points=torch.rand(2, 10, 2, 2),
        spatial_shapes=shapes,
        level_start_index=torch.cat([shapes.new_zeros(1),
                                     shapes.prod(1).cumsum(0)[:-1]]))
    assert out.shape == (2, 10, embed_dims)
    out.pow(2).sum().backward()
    for name, tensor in [('query', query), ('value', value)] + list(attn.named_parameters()):
        assert tensor.grad is not None, name
        assert torch.isfinite(tensor.grad).all(), name
        assert tensor.grad.abs().sum() > 0, name
