"""User API v1, FastAPI implementation."""
