"""The terminal front-end: ``agent-lsp ask``, ``threads`` and ``show`` over the harness's public API.

Like the language server, it uses only what ``agent`` exports (``tests/test_layering.py``).
"""
