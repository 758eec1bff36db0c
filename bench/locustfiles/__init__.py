"""Locust users, run by path (`locust -f`): Locust puts this folder on sys.path for their imports."""
