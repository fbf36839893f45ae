"""Recorded calls: the server-side aiortc peer, media relay and the recording files."""
