"""The policy language: schema, loading, pure evaluation. No file, SQL or kernel I/O."""
