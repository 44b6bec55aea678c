"""Tests of the write path in-process: frames, batches, and the process writer with a real child."""
