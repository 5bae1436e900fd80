"""pf9lib.normalize: raw API objects to typed, enriched rows."""
