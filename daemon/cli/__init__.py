"""The ``scratchwarden`` command line: one module per command group."""
