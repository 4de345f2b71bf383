"""The agent loop and what drives it: the harness object, turns, tool dispatch, the permission gate, items, approvals, recovery and the command watchdog."""
