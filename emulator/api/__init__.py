"""HTTP layer: one module per resource, each ending with its `routes` table."""
