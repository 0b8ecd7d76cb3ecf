"""``python -m whyops`` runs the command-line interface."""

from whyops.cli import main

raise SystemExit(main())
