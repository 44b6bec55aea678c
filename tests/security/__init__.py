"""Tests of tokens, secrets, TLS and what a client may do."""
