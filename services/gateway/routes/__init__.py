"""One module per area of the public API (see API.md)."""
