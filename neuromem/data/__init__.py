"""Datasets, front ends and spike encoders (use the model; the model never imports them)."""
