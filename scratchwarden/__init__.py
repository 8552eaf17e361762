"""Shared, dependency-free definitions imported by daemon, inventory and policies."""
