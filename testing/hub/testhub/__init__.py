"""The koji-osbuild test hub: a small Koji hub on SQLite.

It speaks Koji's XML-RPC dialect with the `koji` package's own marshaller and
plugin loader, and keeps Koji's semantics for the calls koji-osbuild makes
(see ../shared/reference/koji-protocol.md and testing/koji-captures/).
It is a test double, not a Koji: no policies, no inheritance, no rpms.
"""
