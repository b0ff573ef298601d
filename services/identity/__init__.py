"""Identity service: users, enterprises (tenants), credentials, signing keys and tokens."""
