"""Customers: profile summaries and the versioned customer ledger."""
