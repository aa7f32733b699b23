"""Model worker processes: entry files plus their protocol (worker_protocol.py, standard library only).

A worker runs one model in its own process so that an out-of-memory error, a segfault or a
cancel (the worker is stopped) never takes the caller down. See docs/worker-protocol.md.
"""
