"""Problem models, solvers and solutions for rides, deliveries and mixed fleets."""
