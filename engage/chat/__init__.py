"""Chat conversations and their attachments."""
