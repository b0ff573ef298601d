"""The public HTTP API: authenticates, validates and translates JSON ⇄ gRPC. No business rules here."""
