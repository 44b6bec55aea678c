"""Fuzzing and bad input against the API and the configuration."""
