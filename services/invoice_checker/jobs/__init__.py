"""arq tasks and the worker settings."""
