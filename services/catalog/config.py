"""Catalog settings: the shared settings; the catalog service reads no setting of its own yet. A field only it
reads goes here, not into services/runtime/config.py."""

from __future__ import annotations

from services.runtime.config import Settings


class CatalogSettings(Settings):
    """The settings `serve()` runs the catalog service with."""
