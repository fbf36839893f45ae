"""Entry point for ``python -m engage``."""

from engage.cli import main

raise SystemExit(main())
