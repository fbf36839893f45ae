"""The ACD: interactions, queues, routing (decided in Lua), the event log and KPIs."""
