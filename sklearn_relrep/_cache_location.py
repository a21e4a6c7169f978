"""Where the cache folder is by default; the standard library and platformdirs only.

The command line checks this folder before it imports anything heavy, and
:func:`sklearn_relrep.datasets.get_cache_dir` creates it, so both read the
location from here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "CACHE_ENV_VAR", "default_cache_dir"]

APP_NAME = "sklearn_relrep"
CACHE_ENV_VAR = "SKLEARN_RELREP_CACHE"


def default_cache_dir() -> Path:
    """The cache folder used when none is given; it may not exist yet.

    Returns
    -------
    pathlib.Path
        ``$SKLEARN_RELREP_CACHE`` when set and not empty (with ``~`` expanded),
        else the operating system's user cache folder for ``sklearn_relrep``, as
        :func:`platformdirs.user_cache_dir` gives it: ``~/.cache/sklearn_relrep``
        on Linux (``$XDG_CACHE_HOME/sklearn_relrep`` when that is set),
        ``~/Library/Caches/sklearn_relrep`` on macOS and
        ``%LOCALAPPDATA%\\sklearn_relrep\\Cache`` on Windows.
    """
    folder = os.environ.get(CACHE_ENV_VAR)
    if not folder:
        import platformdirs  # a small pure-Python module: --help stays fast

        folder = platformdirs.user_cache_dir(APP_NAME, appauthor=False)
    return Path(os.fsdecode(folder)).expanduser()
