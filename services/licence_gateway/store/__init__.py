"""ORM models and the queries over them."""
