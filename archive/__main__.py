"""``python -m archive``: the same command line as the ``archive`` script."""

from .cli import main

main()
