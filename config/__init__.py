"""Configuration: settings, Celery configuration and logging configuration."""
