"""One parser per webhook source: each validates its payload and returns alert items and hints."""
