"""Clients of the outside world (mail servers, remote APIs)."""
