"""``python -m daemon`` runs the ``scratchwarden`` command line."""

from daemon.cli.scan import main

main()
