"""The differentiable relative layer: same features as the transformers, gradients."""

import numpy as np
import pytest
import torch

from sklearn_relrep import InvariantProductSpace, RelativeProjector
from sklearn_relrep.nn import RelativeProjection

SIMILARITIES = ["cosine", "euclidean", "l1", "linf"]
# (preprocessing, output_scaling, orientation) covering every option once.
OPTIONS = [
    (None, None, "raw"),
    ("center", "scale", "similarity"),
    ("standard", "standard", "raw"),
    ("l2", "layer", "similarity"),
]
TOLERANCES = {
    np.float32: dict(rtol=1e-5, atol=1e-6),
    np.float64: dict(rtol=1e-12, atol=1e-12),
}


def _data(dtype=np.float64, n=40, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 3.0, d) + 2.0
    return X.astype(dtype)


def _transformers():
    for similarity in SIMILARITIES:
        for preprocessing, output_scaling, orientation in OPTIONS:
            yield RelativeProjector(
                similarity,
                n_anchors=7,
                preprocessing=preprocessing,
                output_scaling=output_scaling,
                orientation=orientation,
                random_state=0,
            )
    yield InvariantProductSpace(n_anchors=7, random_state=0)
    yield InvariantProductSpace(n_anchors=7, output_scaling="layer", random_state=0)


TRANSFORMERS = list(_transformers())
IDS = [repr(t).replace("\n", "").replace(" ", "") for t in TRANSFORMERS]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=IDS)
def test_forward_equals_the_fitted_transformers_transform(transformer, dtype):
    X = _data(dtype)
    fitted = transformer.fit(X)
    layer = RelativeProjection.from_transformer(fitted)
    out = layer(torch.from_numpy(X))
    assert out.dtype == torch.from_numpy(X).dtype
    np.testing.assert_allclose(
        out.detach().numpy(), np.asarray(fitted.transform(X)), **TOLERANCES[dtype]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=IDS)
def test_anchors_passed_to_forward_give_the_transformer_fitted_on_them(
    transformer, dtype
):
    X = _data(dtype)
    anchors = X[:7]
    fitted = transformer.set_params(anchors=anchors).fit(X)
    layer = RelativeProjection(
        similarities=fitted._similarity_list(),
        n_anchors=7,
        preprocessing=fitted.preprocessing,
        output_scaling=fitted.output_scaling,
        orientation=fitted.orientation,
    )
    out = layer(torch.from_numpy(X), torch.from_numpy(anchors))
    np.testing.assert_allclose(
        out.detach().numpy(), np.asarray(fitted.transform(X)), **TOLERANCES[dtype]
    )


def test_other_encoders_anchors_in_forward_match_reanchor():
    X = _data()
    space = InvariantProductSpace(n_anchors=7, random_state=0).fit(X)
    rng = np.random.RandomState(1)
    mixing = rng.normal(size=(6, 9))
    X_b = X @ mixing
    anchors_b = X_b[space.anchor_indices_]
    layer = RelativeProjection.from_transformer(space)
    out = layer(torch.from_numpy(X_b), torch.from_numpy(anchors_b))
    expected = space.reanchor(anchors_b).transform(X_b)
    np.testing.assert_allclose(
        out.numpy(), np.asarray(expected), rtol=1e-12, atol=1e-12
    )


def test_fixed_anchors_statistics_are_the_transformers():
    X = _data()
    space = InvariantProductSpace(n_anchors=7, random_state=0).fit(X)
    built = RelativeProjection(
        space.anchors_,
        similarities=SIMILARITIES,
        preprocessing="center",
        output_scaling="standard",
        orientation="similarity",
    )
    for name, fitted in [
        ("input_mean", space.input_mean_),
        ("input_scale", space.input_scale_),
        ("output_offset", space.output_offset_),
        ("output_scale", space.output_scale_),
    ]:
        np.testing.assert_allclose(getattr(built, name).numpy(), fitted, rtol=1e-12)


def _small(seed, n, d=3):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, dtype=torch.float64, generator=generator) * 2.0 + 1.0


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_gradcheck_in_float64_through_rows_and_anchors(similarity, options):
    preprocessing, output_scaling, orientation = options
    layer = RelativeProjection(
        similarities=similarity,
        preprocessing=preprocessing,
        output_scaling=output_scaling,
        orientation=orientation,
    )
    x = _small(0, 5).requires_grad_(True)
    anchors = _small(1, 4).requires_grad_(True)
    assert torch.autograd.gradcheck(layer, (x, anchors))


def test_gradcheck_of_a_product_with_fixed_anchors():
    layer = RelativeProjection(
        _small(1, 4),
        similarities=SIMILARITIES,
        preprocessing="standard",
        output_scaling="standard",
        orientation="similarity",
    )
    x = _small(0, 5).requires_grad_(True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_gradients_reach_the_anchors_passed_in_forward():
    encoder = torch.nn.Linear(3, 4).double()
    layer = RelativeProjection(
        similarities=SIMILARITIES,
        preprocessing="center",
        output_scaling="standard",
        n_anchors=4,
    )
    rows, anchor_inputs = _small(0, 6), _small(1, 4)
    anchors = encoder(anchor_inputs)
    anchors.retain_grad()
    layer(encoder(rows), anchors).square().sum().backward()
    assert torch.isfinite(anchors.grad).all() and anchors.grad.abs().sum() > 0
    encoder.zero_grad()
    # Only through the anchors: the rows carry no gradient.
    layer(encoder(rows).detach(), encoder(anchor_inputs)).square().sum().backward()
    assert encoder.weight.grad.abs().sum() > 0


def test_fixed_anchors_are_a_buffer_without_gradient():
    layer = RelativeProjection(_small(1, 4), similarities="euclidean")
    assert [name for name, _ in layer.named_parameters()] == []
    assert "anchors" in layer.state_dict()
    x = _small(0, 3).requires_grad_(True)
    layer(x).sum().backward()
    assert layer.anchors.grad is None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_gradient_is_finite_where_a_row_equals_an_anchor(similarity):
    anchors = _small(1, 4).requires_grad_(True)
    x = anchors.detach()[:2].clone().requires_grad_(True)
    layer = RelativeProjection(similarities=similarity)
    layer(x, anchors).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(anchors.grad).all()


def test_standard_scaling_of_a_constant_feature_has_finite_gradients():
    anchors = _small(1, 4)
    anchors[:, 0] = 5.0
    anchors.requires_grad_(True)
    layer = RelativeProjection(similarities="cosine", preprocessing="standard")
    layer(_small(0, 3), anchors).sum().backward()
    assert torch.isfinite(anchors.grad).all()


def test_module_dtype_casts_follow_the_rows():
    layer = RelativeProjection(
        _small(1, 4), similarities=["cosine", "l1"], output_scaling="scale"
    )
    x = _small(0, 3)
    expected = layer(x)
    out = layer.float()(x.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected.float(), rtol=1e-5, atol=1e-6)


# bad inputs ------------------------------------------------------------------


def test_wrong_widths_are_named():
    layer = RelativeProjection(_small(1, 4, d=3))
    with pytest.raises(ValueError, match="x has 5 features but the anchors have 3"):
        layer(_small(0, 2, d=5))
    with pytest.raises(ValueError, match="2-D"):
        layer(torch.zeros(3))


def test_a_different_number_of_anchors_is_refused():
    layer = RelativeProjection(n_anchors=4)
    with pytest.raises(ValueError, match="Got 5 anchors; this layer was built for 4"):
        layer(_small(0, 2), _small(1, 5))
    with pytest.raises(ValueError, match="n_anchors=3 but 4 anchors"):
        RelativeProjection(_small(1, 4), n_anchors=3)


def test_missing_anchors_are_asked_for():
    with pytest.raises(ValueError, match="no fixed anchors"):
        RelativeProjection()(_small(0, 2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(similarities="cos"), "Unknown similarity 'cos'"),
        (dict(similarities=[]), "at least one"),
        (dict(similarities=["l1", "l1"]), "distinct names"),
        (dict(preprocessing="centre"), "Unknown preprocessing 'centre'"),
        (dict(output_scaling="max"), "Unknown output_scaling 'max'"),
        (dict(orientation="up"), "Unknown orientation 'up'"),
        (dict(n_anchors=0), "positive integer"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RelativeProjection(**kwargs)


def test_nan_in_rows_or_anchors_is_refused():
    layer = RelativeProjection(n_anchors=4)
    x, anchors = _small(0, 2), _small(1, 4)
    x[0, 1] = float("nan")
    with pytest.raises(ValueError, match="x holds NaN or inf"):
        layer(x, anchors)
    anchors[2, 0] = float("inf")
    with pytest.raises(ValueError, match="anchors holds NaN or inf"):
        layer(_small(0, 2), anchors)
    with pytest.raises(ValueError, match="anchors holds NaN or inf"):
        RelativeProjection(anchors)


def test_non_float_rows_are_refused():
    layer = RelativeProjection(_small(1, 4))
    with pytest.raises(TypeError, match="dtype torch.int64"):
        layer(torch.ones(2, 3, dtype=torch.int64))


def test_from_transformer_needs_a_fitted_relative_transformer():
    with pytest.raises(ValueError, match="not fitted yet"):
        RelativeProjection.from_transformer(RelativeProjector())
    with pytest.raises(TypeError, match="RelativeProjector or InvariantProductSpace"):
        RelativeProjection.from_transformer(torch.nn.Linear(2, 2))
