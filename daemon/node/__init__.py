"""The node runtime: the daemon that keeps the inventory true while agents write."""
