"""``python -m lsp_server``: the same entry point as the ``agent-lsp`` command."""

from lsp_server.cli import main

raise SystemExit(main())
