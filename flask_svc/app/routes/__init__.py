"""One Blueprint per concern."""
