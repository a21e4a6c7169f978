"""The torch building blocks: normalisation, blenders, heads."""

import numpy as np
import pytest
import torch

from sklearn_relrep.nn import (
    AGGREGATIONS,
    AttentionBlender,
    MLPHead,
    StitchingNetwork,
    SubspaceDropout,
    SubspaceLayerNorm,
    WeightedBlender,
    make_blender,
)

SIZES = [6, 6, 6]


def _blocks(batch=5, sizes=SIZES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return SubspaceLayerNorm(sizes)(torch.randn(batch, sum(sizes), generator=generator))


def test_subspace_layer_norm_standardises_each_block():
    x = torch.randn(4, 7) * torch.arange(1.0, 8.0)
    for block in SubspaceLayerNorm([3, 4])(x):
        torch.testing.assert_close(block.mean(1), torch.zeros(4), atol=1e-5, rtol=0)
        torch.testing.assert_close(
            block.var(1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0
        )


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
def test_blender_output_width(aggregation):
    blender = make_blender(aggregation, SIZES)
    out = blender(_blocks())
    expected = sum(SIZES) if aggregation == "concat" else SIZES[0]
    assert out.shape == (5, expected) == (5, blender.out_features)


@pytest.mark.parametrize("aggregation", ["sum", "mlp_sum", "weighted", "attention"])
def test_blenders_needing_equal_widths_say_so(aggregation):
    with pytest.raises(ValueError, match="equal width"):
        make_blender(aggregation, [3, 4])


def test_unknown_aggregation():
    with pytest.raises(ValueError, match="Unknown aggregation"):
        make_blender("max", SIZES)


def test_attention_parameters_are_only_qkv_and_heads_must_divide():
    blender = AttentionBlender(SIZES, n_heads=3)
    names = {name.split(".")[0] for name, _ in blender.named_parameters()}
    assert names == {"query", "key", "value"}
    with pytest.raises(ValueError, match="divisor"):
        AttentionBlender(SIZES, n_heads=4)


@pytest.mark.parametrize("aggregation", ["sum", "mlp_sum", "attention"])
def test_symmetric_blenders_ignore_subspace_order(aggregation):
    torch.manual_seed(0)
    blender = make_blender(aggregation, SIZES)
    if aggregation == "mlp_sum":
        for encoder in blender.encoders[1:]:
            encoder.load_state_dict(blender.encoders[0].state_dict())
    blocks = _blocks()
    torch.testing.assert_close(blender(blocks), blender(blocks[::-1]))


def test_attention_mean_is_sum_over_tokens():
    torch.manual_seed(0)
    summed = AttentionBlender(SIZES, reduction="sum")
    averaged = AttentionBlender(SIZES, reduction="mean")
    averaged.load_state_dict(summed.state_dict())
    blocks = _blocks()
    torch.testing.assert_close(summed(blocks) / len(SIZES), averaged(blocks))


def test_weighted_blender_is_a_convex_combination():
    blender = WeightedBlender(SIZES)
    with torch.no_grad():
        blender.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    blocks = _blocks()
    weights = torch.softmax(blender.logits.detach(), 0)
    expected = sum(w * b for w, b in zip(weights, blocks, strict=True))
    torch.testing.assert_close(blender(blocks).detach(), expected)


def test_mlp_head_layers_and_dropout():
    head = MLPHead(4, 3, hidden_sizes=(8, 5), activation="tanh", dropout=0.5)
    kinds = [type(layer).__name__ for layer in head.layers]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert MLPHead(4, 2, hidden_sizes=())(torch.randn(3, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="activation"):
        MLPHead(4, 2, activation="swishy")


def test_stitching_network_parts():
    network = StitchingNetwork(SIZES, 2, task="regression", aggregation="weighted")
    assert {name for name, _ in network.named_children()} == {
        "layer_norm",
        "subspace_dropout",
        "blender",
        "head",
    }
    assert network(torch.randn(3, sum(SIZES))).shape == (3, 2)


def test_stitching_network_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="task must be"):
        StitchingNetwork(SIZES, 2, task="bogus")


def test_subspace_dropout_keeps_one_subspace_and_the_expected_sum():
    generator = torch.Generator().manual_seed(0)
    dropout = SubspaceDropout(0.75, generator=generator).train()
    blocks = [torch.ones(4000, 2) for _ in range(4)]
    out = torch.stack(dropout(blocks), dim=1)
    kept = (out[:, :, 0] != 0).sum(1)
    assert kept.min() >= 1 and kept.max() <= 4
    np.testing.assert_allclose(out[:, :, 0].sum(1).numpy(), 4.0, rtol=1e-6)
    dropout.eval()
    assert all(torch.equal(a, b) for a, b in zip(dropout(blocks), blocks, strict=True))
    with pytest.raises(ValueError, match="subspace dropout"):
        SubspaceDropout(1.0)
