"""The node on its host: its configuration file, the roots it watches, and its
installation as systemd units."""
