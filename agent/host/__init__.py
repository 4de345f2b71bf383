"""The agent host: one process per state directory in which turns run, outliving editors.

``place`` (socket, lock, log, start-up), ``rpc`` (JSON-RPC over the socket), ``server`` (the
host), ``editors`` (the attached editors' documents and edits), ``client`` (what front-ends use).
"""
