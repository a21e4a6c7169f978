"""InvariantProductSpace: layout, orientation, centring, scaling and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    SubspaceArray,
    SubspaceLayout,
)
from sklearn_relrep._layout import infer_layout

X = np.random.RandomState(0).normal(size=(60, 5))


def test_concat_is_the_oriented_standardised_single_projections():
    space = InvariantProductSpace(n_anchors=6, random_state=0).fit(X)
    Z = space.transform(X)
    assert Z.shape == (60, 24)
    for i, (name, columns) in enumerate(
        zip(space.layout_.names, space.layout_.slices, strict=True)
    ):
        raw = RelativeProjector(
            name, anchors=space.anchors_, preprocessing="center"
        ).fit(X)
        sign = 1.0 if name == "cosine" else -1.0
        anchor_values = sign * raw.transform(space.anchors_)[~np.eye(6, dtype=bool)]
        expected = (
            sign * raw.transform(X) - anchor_values.mean()
        ) / anchor_values.std()
        np.testing.assert_allclose(Z[:, columns], expected, atol=1e-10)
        assert space.output_offset_[i] == pytest.approx(anchor_values.mean())


def test_every_subspace_points_the_same_way_by_default():
    """Higher is closer: a row's own anchor is its largest value in every block."""
    space = InvariantProductSpace(n_anchors=6, output_scaling=None, random_state=0)
    Z = space.fit(X).transform(X)
    rows = space.anchor_indices_
    for columns in space.layout_.slices:
        block = np.asarray(Z[rows][:, columns])
        assert (block.argmax(1) == np.arange(6)).all()


def test_raw_orientation_keeps_the_distances():
    params = dict(
        similarities=("cosine", "l1"), output_scaling=None, n_anchors=5, random_state=0
    )
    Z = InvariantProductSpace(**params).fit(X).transform(X)
    Z_raw = InvariantProductSpace(orientation="raw", **params).fit(X).transform(X)
    np.testing.assert_allclose(Z_raw[:, :5], Z[:, :5])
    np.testing.assert_allclose(Z_raw[:, 5:], -Z[:, 5:])
    assert (Z_raw[:, 5:] >= 0).all()


def test_cosine_is_centred_on_the_anchors_by_default():
    """Centring makes the cosine block invariant to translation."""
    space = InvariantProductSpace(("cosine",), n_anchors=6, random_state=0).fit(X)
    shift = 10.0 * np.arange(1, 6)
    moved = space.reanchor(space.anchors_ + shift)
    np.testing.assert_allclose(
        moved.transform(X + shift), space.transform(X), atol=1e-9
    )
    np.testing.assert_allclose(space.input_mean_, space.anchors_.mean(0))


def test_layer_scaling_standardises_each_row_per_subspace():
    space = InvariantProductSpace(
        output_scaling="layer",
        orientation="raw",
        preprocessing=None,
        n_anchors=8,
        random_state=0,
    )
    Z = space.fit(X).transform(X)
    for name, columns in zip(space.layout_.names, space.layout_.slices, strict=True):
        raw = RelativeProjector(name, anchors=space.anchors_).fit(X).transform(X)
        mean, var = raw.mean(1, keepdims=True), raw.var(1, keepdims=True)
        np.testing.assert_allclose(
            Z[:, columns], (raw - mean) / np.sqrt(var + 1e-5), atol=1e-10
        )


def test_layout_is_exposed_for_downstream_estimators():
    space = InvariantProductSpace(("cosine", "l1"), n_anchors=4, random_state=0).fit(X)
    Z = space.transform(X)
    assert isinstance(Z, SubspaceArray)
    assert space.layout_ == SubspaceLayout(("cosine", "l1"), (4, 4))
    assert infer_layout(Z) == space.layout_
    assert infer_layout(Z[10:20]) == space.layout_
    assert infer_layout(np.asarray(Z)) is None
    frame = space.set_output(transform="pandas").transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert infer_layout(frame) == space.layout_
    assert list(frame.columns[:2]) == ["cosine_a0", "cosine_a1"]


def test_subspace_array_pickles_with_its_layout():
    import pickle

    Z = InvariantProductSpace(n_anchors=3, random_state=0).fit(X).transform(X)
    restored = pickle.loads(pickle.dumps(Z))
    assert restored.layout == Z.layout
    np.testing.assert_array_equal(restored, Z)


def test_the_transformer_has_no_aggregation_option():
    """Blending is the stitcher's job; one word, one meaning."""
    assert "aggregation" not in InvariantProductSpace().get_params()


def test_product_space_is_invariant_to_the_intersection_of_groups():
    """Orthogonal permutations with sign flips plus translation: every group's."""
    rng = np.random.RandomState(1)
    perm, signs, shift = (
        rng.permutation(5),
        rng.choice([-1.0, 1.0], 5),
        rng.normal(size=5),
    )
    space = InvariantProductSpace(
        ("euclidean", "l1", "linf"), n_anchors=7, random_state=0
    ).fit(X)
    moved = space.reanchor(space.anchors_[:, perm] * signs + shift)
    np.testing.assert_allclose(
        moved.transform(X[:, perm] * signs + shift), space.transform(X), atol=1e-6
    )


def test_reanchor_recomputes_subspace_statistics_from_the_new_anchors():
    Q = ortho_group.rvs(5, random_state=0)
    space = InvariantProductSpace(("cosine", "euclidean"), n_anchors=6, random_state=0)
    space.fit(X)
    scaled = space.reanchor(3.0 * space.anchors_ @ Q)
    np.testing.assert_allclose(scaled.output_scale_[1], 3.0 * space.output_scale_[1])
    np.testing.assert_allclose(
        scaled.transform(3.0 * X @ Q), space.transform(X), atol=1e-6
    )


def test_duplicate_similarities_are_rejected():
    with pytest.raises(ValueError, match="distinct names"):
        InvariantProductSpace(("l1", "l1"), n_anchors=2).fit(X)


def test_unknown_similarity_in_the_set_is_rejected():
    with pytest.raises(ValueError, match="Unknown similarity 'cos'"):
        InvariantProductSpace(("cos", "l1"), n_anchors=2).fit(X)


def test_empty_similarity_set_is_rejected():
    with pytest.raises(ValueError, match="at least one"):
        InvariantProductSpace((), n_anchors=2).fit(X)
