"""HTTP routers and their request/response schemas."""
