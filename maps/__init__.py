"""Road and airspace graphs, snapping and travel matrices from OpenStreetMap."""
