"""Confining an agent's processes: Landlock rules, the sandboxed child that
enters them, and the truncate supervisor."""
