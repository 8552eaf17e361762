"""Red-line enforcement: Landlock launcher, fanotify guard, systemd drop-ins."""
