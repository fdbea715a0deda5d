"""Live operations: bookings, fleet state, insertion, re-optimization and simulation."""
