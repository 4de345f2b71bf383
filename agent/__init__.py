"""The agent harness: protocol types, loop, model client, tools, permissions and store.

It knows nothing of LSP; the language server and the CLI both drive it through
``agent.harness.Harness``.
"""
