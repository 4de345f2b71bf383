"""agent-lsp's language server: pygls handlers translating between LSP and ``agent/``."""

__version__ = "0.2.0"
