"""The plate detector: scene composition, training, export."""
