"""``python -m daemon`` runs the ``scratchwarden`` command line."""

from daemon.cli import main

main()
