"""``python -m robustune``: the same entry point as the ``robustune`` console script."""

from robustune.main import main

main()
