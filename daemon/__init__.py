"""The node daemon: CLI, service lifecycle, watching, scanning, actions, guard."""
