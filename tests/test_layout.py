"""SubspaceLayout, the one layout type, and the arrays that carry it."""

import pickle

import numpy as np
import pytest

from sklearn_relrep import SubspaceArray, SubspaceLayout
from sklearn_relrep._layout import infer_layout


@pytest.mark.parametrize(
    "widths, error",
    [
        ((3, -1), ValueError),
        ((3, 0), ValueError),
        ((3, 2.0), TypeError),
        ((3, True), TypeError),
        ((3, "2"), TypeError),
    ],
)
def test_widths_must_be_positive_integers(widths, error):
    with pytest.raises(error, match="widths"):
        SubspaceLayout(("a", "b"), widths)
    with pytest.raises(error, match="widths"):
        SubspaceArray(np.zeros((2, 5)), SubspaceLayout(("a", "b"), widths))


@pytest.mark.parametrize(
    "names, widths, match",
    [
        ((), (), "at least one"),
        (("a",), (1, 2), "one name per width"),
        (("a", "a"), (1, 1), "distinct"),
        (("a", ""), (1, 1), "non-empty"),
    ],
)
def test_names_must_match_the_widths_and_be_distinct(names, widths, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SubspaceLayout(names, widths)


def test_slices_feature_names_and_json_round_trip():
    layout = SubspaceLayout(("cosine", "l1"), (2, 3))
    assert layout.n_features == 5 and len(layout) == 2
    assert layout.slices == (slice(0, 2), slice(2, 5))
    assert layout.feature_names() == [
        "cosine_a0",
        "cosine_a1",
        "l1_a0",
        "l1_a1",
        "l1_a2",
    ]
    assert SubspaceLayout.from_feature_names(layout.feature_names()) == layout
    assert SubspaceLayout.from_dict(layout.to_dict()) == layout
    with pytest.raises(ValueError, match="Not a subspace layout"):
        SubspaceLayout.from_dict({"names": ["a"], "widths": [1], "x": 1})


@pytest.mark.parametrize(
    "columns",
    [["a_a0", "b_a0", "a_a1"], ["a_a1", "a_a0"], ["a_a0", "x"], []],
)
def test_feature_names_that_are_not_a_layout_give_none(columns):
    assert SubspaceLayout.from_feature_names(columns) is None


def test_subspace_array_keeps_its_layout_only_while_columns_are_kept():
    layout = SubspaceLayout(("a", "b"), (2, 2))
    X = SubspaceArray(np.arange(12.0).reshape(3, 4), layout)
    assert infer_layout(X[1:]) == layout
    assert infer_layout(X * 2.0) == layout
    assert infer_layout(X[:, :3]) is None
    assert infer_layout(np.asarray(X)) is None
    assert pickle.loads(pickle.dumps(X)).layout == layout
    with pytest.raises(ValueError, match="add up to 4 columns"):
        SubspaceArray(np.zeros((3, 5)), layout)
