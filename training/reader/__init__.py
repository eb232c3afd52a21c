"""The plate reader: synthetic pre-rendering, training, export."""
