"""What the model sees: the transcript, the system prompt, the thread's state, context accounting and compaction."""
