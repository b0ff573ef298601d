"""Consultation settings: the shared settings; the consultation service reads no setting of its own yet. A field only it
reads goes here, not into services/runtime/config.py."""

from __future__ import annotations

from services.runtime.config import Settings


class ConsultationSettings(Settings):
    """The settings `serve()` runs the consultation service with."""
