"""HTTP plumbing shared by every domain's routes: middleware, errors, parsing, OpenAPI."""
