"""Development tools, not production code: the local stand-ins for the outside parties
(simulators), the embedded PostgreSQL and Redis, and the small servers tests start and stop.
`make run`, `make demo`, docker-compose's simulator containers and the tests use them; the wheel
does not ship them (an editable install puts the repository root on the path)."""
