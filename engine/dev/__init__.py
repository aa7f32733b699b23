"""Developer tools: the tiny offline Qwen2.5-Omni for tests, smoke runs and users without weights."""
