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
    # Seeded: LayerNorm's eps moves the variance of a block whose entries
    # happen to be nearly equal, as a few unseeded draws in a hundred are.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, generator=generator) * torch.arange(1.0, 8.0)
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


REFERENCE = dict(residual=False, init="random", pre_norm=False)


def test_attention_parameters_are_qkv_plus_the_pre_norm():
    blender = AttentionBlender(SIZES, n_heads=3)
    names = {name.split(".")[0] for name, _ in blender.named_parameters()}
    assert names == {"query", "key", "value", "norm"}
    reference = AttentionBlender(SIZES, **REFERENCE)
    names = {name.split(".")[0] for name, _ in reference.named_parameters()}
    assert names == {"query", "key", "value"}
    with pytest.raises(ValueError, match="divisor"):
        AttentionBlender(SIZES, n_heads=4)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"reduction": "max"}, "reduction"),
        ({"init": "zeros"}, "init must be"),
        ({"init": "sum", "residual": False}, "needs residual=True"),
    ],
)
def test_attention_rejects_bad_options(option, match):
    with pytest.raises(ValueError, match=match):
        AttentionBlender(SIZES, **option)


def _uniform_mix(blender, blocks):
    """What attention with all weights 1/m gives: sum_i sum_j V(t_j) / m."""
    values = [blender.value(block) for block in blocks]
    return sum(values)


def test_uniform_init_starts_from_a_plain_average_of_the_subspaces():
    torch.manual_seed(0)
    blocks = _blocks()
    options = dict(REFERENCE, init="uniform")
    blender = AttentionBlender(SIZES, **options)
    assert not blender.query.weight.any() and not blender.query.bias.any()
    torch.testing.assert_close(blender(blocks), _uniform_mix(blender, blocks))
    random_init = AttentionBlender(SIZES, **REFERENCE)
    assert not torch.allclose(random_init(blocks), _uniform_mix(random_init, blocks))


def test_the_default_starts_as_the_sum_blender():
    blocks = [3.0 * block + 1.0 for block in _blocks()]
    blender = AttentionBlender(SIZES)
    assert not blender.value.weight.any() and not blender.query.weight.any()
    torch.testing.assert_close(blender(blocks), make_blender("sum", SIZES)(blocks))
    assert blender.key.weight.any()


def test_residual_adds_the_tokens_to_the_attention_output():
    torch.manual_seed(0)
    plain = AttentionBlender(SIZES, **REFERENCE)
    residual = AttentionBlender(SIZES, **dict(REFERENCE, residual=True))
    residual.load_state_dict(plain.state_dict())
    blocks = _blocks()
    torch.testing.assert_close(residual(blocks), plain(blocks) + sum(blocks))


def test_pre_norm_normalises_tokens_before_qkv_only():
    torch.manual_seed(0)
    blocks = [3.0 * block + 1.0 for block in _blocks()]
    plain = AttentionBlender(SIZES, **dict(REFERENCE, residual=True))
    normed = AttentionBlender(SIZES, **dict(REFERENCE, residual=True, pre_norm=True))
    normed.load_state_dict(plain.state_dict(), strict=False)
    normalised = [torch.nn.functional.layer_norm(b, (SIZES[0],)) for b in blocks]
    # Q/K/V read the normalised tokens, the residual path the raw ones.
    expected = plain(normalised) - sum(normalised) + sum(blocks)
    torch.testing.assert_close(normed(blocks), expected)


def test_stitching_network_passes_attention_options_to_the_blender():
    default = StitchingNetwork(SIZES, 2, aggregation="attention").blender
    assert default.residual and default.norm is not None
    assert not default.query.weight.any() and not default.value.weight.any()
    reference = StitchingNetwork(
        SIZES,
        2,
        aggregation="attention",
        attention_residual=False,
        attention_init="random",
        attention_pre_norm=False,
    ).blender
    assert not reference.residual and reference.norm is None
    assert reference.query.weight.any() and reference.value.weight.any()


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


def n_weights(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
def test_each_module_bounds_its_own_weight_count(aggregation):
    sizes = (5, 5, 5)
    blender = make_blender(aggregation, sizes)
    assert 0 <= type(blender).min_weights(sizes) <= n_weights(blender)
    assert type(blender).min_out_width(sizes) <= blender.out_features
    norm = SubspaceLayerNorm(sizes)
    assert sum(sizes) == SubspaceLayerNorm.min_weights(sizes) <= n_weights(norm)
    head = MLPHead(blender.out_features, 3, hidden_sizes=(7,))
    assert MLPHead.min_weights(blender.out_features, 3, (7,)) <= n_weights(head)
    network = StitchingNetwork(sizes, 3, aggregation=aggregation, hidden_sizes=(7,))
    bound = StitchingNetwork.min_weights(
        sizes, 3, aggregation=aggregation, hidden_sizes=(7,)
    )
    assert n_weights(network) // 3 <= bound <= n_weights(network)
