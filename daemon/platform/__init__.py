"""Platform primitives: durable file operations, the state directory, sd_notify,
logging and value fingerprints. Nothing here knows about policies, the
inventory or the daemon's roles."""
