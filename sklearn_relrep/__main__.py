"""``python -m sklearn_relrep``: the experiment runner, named as it was invoked."""

import sys

from sklearn_relrep.experiments._cli import main

sys.exit(main(prog="python -m sklearn_relrep"))
