"""The ACP front-end: ``agent-lsp acp`` puts the harness behind every Agent Client Protocol
client (Zed, JetBrains, avante.nvim, CodeCompanion, acpx), on the same threads as the LSP.

``convert`` turns ACP content into harness input and harness events and items into
``session/update``s (pure functions); ``bridge`` runs the harness on a thread of its own;
``files`` reads and writes through the client's ``fs/*`` methods; ``agent`` is the
``acp.Agent`` itself; ``main`` serves it on stdio.
"""
