"""Celery: the app factory, the base task and the beat schedule."""
