"""Where the cache folder is by default; the standard library only.

The command line checks this folder before it imports anything heavy, and
:func:`sklearn_relrep.datasets.get_cache_dir` creates it, so both read the
location from here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV_VAR", "default_cache_dir"]

CACHE_ENV_VAR = "SKLEARN_RELREP_CACHE"


def default_cache_dir() -> Path:
    """The cache folder used when none is given; it may not exist yet.

    Returns
    -------
    pathlib.Path
        ``$SKLEARN_RELREP_CACHE`` when set and not empty, else
        ``~/.cache/sklearn_relrep``, with ``~`` expanded.
    """
    folder = os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "sklearn_relrep"
    return Path(os.fsdecode(folder)).expanduser()
