"""Voice/video calls: call state, ICE servers, SDP policy and recordings."""
