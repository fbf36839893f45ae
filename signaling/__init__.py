"""The Socket.IO adapter: namespaces, event schemas, the hardened server, WebRTC relay."""
