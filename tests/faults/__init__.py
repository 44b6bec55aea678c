"""Faults: dead APIs, lost databases, killed and frozen exporters."""
