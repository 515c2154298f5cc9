"""Reliability and security harnesses for `make reliability`; figures go to docs/reliability.md."""
