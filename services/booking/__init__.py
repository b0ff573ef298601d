"""Booking service: lawyer calendars, bookings at the firm and on site, visits and check-ins."""
