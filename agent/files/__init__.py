"""Files as the agent changes them: the workspace boundary, open buffers, planned changes and unified diffs."""
