"""Small shared building blocks with no knowledge of the product's domains."""
