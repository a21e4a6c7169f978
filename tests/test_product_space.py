"""InvariantProductSpace: layout, normalisation, aggregation and bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group

from sklearn_relrep import InvariantProductSpace, RelativeProjector, SubspaceArray
from sklearn_relrep._layout import infer_subspace_sizes

X = np.random.RandomState(0).normal(size=(60, 5))


def test_concat_is_the_standardised_single_projections():
    space = InvariantProductSpace(n_anchors=6, random_state=0).fit(X)
    Z = space.transform(X)
    assert Z.shape == (60, 24)
    for i, (name, columns) in enumerate(space.subspace_layout()):
        raw = RelativeProjector(name, anchors=space.anchors_).fit(X)
        anchor_values = raw.transform(space.anchors_)[~np.eye(6, dtype=bool)]
        expected = (raw.transform(X) - anchor_values.mean()) / anchor_values.std()
        np.testing.assert_allclose(Z[:, columns], expected, atol=1e-12)
        assert space.output_offset_[i] == pytest.approx(anchor_values.mean())


@pytest.mark.parametrize("aggregation", ["sum", "mean"])
def test_sum_and_mean_aggregate_the_concat_blocks(aggregation):
    concat = InvariantProductSpace(n_anchors=6, random_state=0).fit(X).transform(X)
    blocks = np.asarray(concat).reshape(60, 4, 6)
    space = InvariantProductSpace(aggregation=aggregation, n_anchors=6, random_state=0)
    Z = space.fit(X).transform(X)
    expected = blocks.sum(1) if aggregation == "sum" else blocks.mean(1)
    np.testing.assert_allclose(Z, expected, atol=1e-12)
    assert space.get_feature_names_out()[0] == f"{aggregation}_a0"
    assert Z.subspaces == ((aggregation, 6),)


def test_layer_normalisation_standardises_each_row_per_subspace():
    space = InvariantProductSpace(
        output_normalization="layer", n_anchors=8, random_state=0
    )
    Z = space.fit(X).transform(X)
    for name, columns in space.subspace_layout():
        raw = RelativeProjector(name, anchors=space.anchors_).fit(X).transform(X)
        mean, var = raw.mean(1, keepdims=True), raw.var(1, keepdims=True)
        np.testing.assert_allclose(
            Z[:, columns], (raw - mean) / np.sqrt(var + 1e-5), atol=1e-10
        )


def test_layout_is_exposed_for_downstream_estimators():
    space = InvariantProductSpace(("cosine", "l1"), n_anchors=4, random_state=0).fit(X)
    Z = space.transform(X)
    assert isinstance(Z, SubspaceArray)
    assert infer_subspace_sizes(Z) == (4, 4)
    assert infer_subspace_sizes(Z[10:20]) == (4, 4)
    assert infer_subspace_sizes(np.asarray(Z)) is None
    assert [name for name, _ in space.subspace_layout()] == ["cosine", "l1"]
    frame = space.set_output(transform="pandas").transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert infer_subspace_sizes(frame) == (4, 4)
    assert list(frame.columns[:2]) == ["cosine_a0", "cosine_a1"]


def test_subspace_array_pickles_with_its_layout():
    import pickle

    Z = InvariantProductSpace(n_anchors=3, random_state=0).fit(X).transform(X)
    restored = pickle.loads(pickle.dumps(Z))
    assert restored.subspaces == Z.subspaces
    np.testing.assert_array_equal(restored, Z)


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
