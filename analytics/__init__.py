"""Pure numpy/scipy analysis: affinity, contribution, outbound lists, heatmaps, KPIs (no I/O)."""
