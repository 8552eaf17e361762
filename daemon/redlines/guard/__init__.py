"""The fanotify guard: the read/exec half of the red lines, in its own process."""
