"""Load benchmarks of the User API services: wrk over loopback, PostgreSQL, psutil."""
