"""Durable state in SQLite: threads, turns, items, events, transcripts and the records of things in flight."""
