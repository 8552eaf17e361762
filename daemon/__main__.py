"""``python -m daemon`` runs the ``scratchwarden`` command line."""

from daemon.cli.main import main

main()
