"""``python -m robustune``: the same entry point as the ``robustune`` console script.

One CPython detail needs care here: under ``-m``, a KeyboardInterrupt that ended inside code run
from a string (``PyRun_String``: dataclass or typing helpers, for example) leaves the interpreter
marked as killed by SIGINT even after ``main`` handled it, so the process would die of SIGINT
instead of exiting 130. The interrupted path therefore exits with ``os._exit(130)`` once every
``finally`` block has run and the streams are flushed.
"""

import os
import sys

from robustune.main import main

try:
    main()
except SystemExit as exc:
    if exc.code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise
