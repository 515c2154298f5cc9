"""service_kit: the small typed library both services are built on.

Settings base, database engine and sessions, problem+json errors, JSON logging,
health/readiness/metrics, arq helpers, migrations and the embedded dev servers.
Nothing here knows about licences or invoices.
"""
