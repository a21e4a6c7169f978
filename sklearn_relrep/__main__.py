import sys

from sklearn_relrep.experiments._cli import main

sys.exit(main())
