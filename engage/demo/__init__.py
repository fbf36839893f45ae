"""The demo real-estate group's data and its loader."""
