"""Machine-facing HTTP endpoints: well-known documents, health, and later the APIs."""
