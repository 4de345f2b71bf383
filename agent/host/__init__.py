"""The agent host: one process per state directory in which turns run, outliving editors.

``place`` (socket, lock, log, start-up), ``early`` (a client forking the host as its first act),
``rpc`` (JSON-RPC over the socket), ``server`` (the host: workspaces and connections),
``session`` (one connected client and the protocol it speaks), ``editors`` (the attached
editors' documents and edits), ``client`` (``HostClient``, what front-ends use) and ``local``
(``LocalAgent``, the same API over a harness in the front-end's own process).
"""
