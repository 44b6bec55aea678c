"""Tests of the worker library, its agent and `heartbeat status`."""
