"""Feature tables: the feature job that refreshes them, point-in-time lookups, freshness."""
