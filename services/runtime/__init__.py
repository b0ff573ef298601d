"""The kit every counsel process runs on: config, gRPC server and clients, DB sessions, outbox, events,
Temporal client, metrics and logs. No domain logic lives here."""
