"""Tests of the storage layer on both backends."""
