"""Notification service: the in-app inbox, channels, preferences and the dev outbox."""
