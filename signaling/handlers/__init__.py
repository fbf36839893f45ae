"""Socket.IO event handlers, one module per namespace area."""
