"""Next-purchase analysis (§5.5, R-Q-2) and the purchase-intent score (R-CS-2), learned from enterprise
histories rather than set by hand.

Not a service: a shared domain package, like `services/legal_fields`. Catalog recommends the next products
with it (it owns the products and keeps each enterprise's history from the events), consultation scores
a client's purchase intent with it, and `counsel analytics report` evaluates both; no service imports
another (docs/architecture.md, "Shared domain packages").

- `histories.py`: a seeded generator of realistic enterprise histories (patterns by industry and size);
- `evidence.py`: what a history says (the features both models read) and how a reason reads in Chinese;
- `recommender.py`: the next-purchase model (softmax regression over the evidence) and its reasons;
- `intent.py`: the purchase-intent model (logistic regression) beside the former hand-set weights;
- `training.py`: trains both on one part of the generated histories and writes `model.json`;
- `evaluation.py`: hit-rate@3 against a most-popular baseline and the AUCs, on held-out histories."""
