"""The affinity analysis: inputs, worker, stored results, suggestions, campaigns, feedback."""
