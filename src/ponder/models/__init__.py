"""Models that ship with ponder: the embedded reasoning model and its prompt format."""
