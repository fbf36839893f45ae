"""Sites that embed the widget, their settings, and signed visitor identity."""
