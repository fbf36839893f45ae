"""Visits: where a visitor event enters, the trail, help detection and proactive invites."""
