"""HTTP routes: auth, users (self-service and admin), health."""
