"""Group commit, the only write path to the storage: queued writes applied in shared
transactions, each caller woken only once its write is committed, by a thread of the exporter
(:mod:`~exporter.writing.thread_writer`) or by a writer process
(:mod:`~exporter.writing.process_writer`, the default)."""
