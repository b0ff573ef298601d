"""Documents service: document orders, versions, reviews and revisions."""
