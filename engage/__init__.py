"""engage: a self-hosted real-time web engagement server for customer-contact centres."""

__version__ = "0.1.0"
