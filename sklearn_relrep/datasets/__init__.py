"""Deterministic loaders for the offline data sets, and the on-disk cache folder."""

from ._bbc import load_bbc_news
from ._cache import get_cache_dir
from ._mnist import load_digits, load_mnist

__all__ = ["get_cache_dir", "load_bbc_news", "load_digits", "load_mnist"]
