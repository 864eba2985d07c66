"""Celery tasks: thin wrappers that take ids and call the domains' services. They live
with the worker, which depends on the domains; no domain imports a task."""
