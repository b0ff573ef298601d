"""What the tests of every tier share, so that no helper is copied between test files:

* `tokens` — access tokens signed by a key of the test's own, and the verifier that trusts it;
* `platform` — the platform's pieces in this process (settings, migrated databases, gRPC servers, the
  gateway app, services run by their own `serve`), and the whole platform as `counsel up` runs it;
* `gateway` — the gateway app over fake peer services, and what its problem answers name;
* `authorization` — who may call each gateway route (the unit matrix's and the fuzz tier's oracle);
* `factories` — common test data (events, protos, a product);
* `fake_providers`, `oidc_provider` — payment and OpenID Connect providers' stand-ins on loopback;
* `journeys` — the journeys' HTTP helpers against a running platform (log in, one-time codes, waiting).
"""
