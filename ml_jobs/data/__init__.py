"""Data for the jobs: a synthetic churn generator and checks of a table against the model spec."""
