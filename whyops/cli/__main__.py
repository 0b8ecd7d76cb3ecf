"""``python -m whyops.cli`` runs the command-line interface (as ``python -m whyops`` does)."""

from whyops.cli import main

raise SystemExit(main())
