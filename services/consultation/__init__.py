"""Consultation service: consultations, their conversation, assignment and stage history."""
