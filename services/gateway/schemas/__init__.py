"""Request and response models of the public API, and their conversion from protos."""
