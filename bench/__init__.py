"""Measured figures: every number is a ratio or a count from one run (`make bench`)."""
