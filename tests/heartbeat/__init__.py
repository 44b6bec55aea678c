"""Tests of the worker library, its agent, and the status, maintenance and retire commands."""
