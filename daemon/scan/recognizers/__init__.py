"""Our own Presidio recognizers, declared as data (``PATTERNS``, ``CONTEXT``) in
the Presidio style: ``pii`` for personal data, ``secrets`` for credentials."""
