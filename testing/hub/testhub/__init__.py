"""The koji-osbuild test hub: a small Koji hub on SQLite.

It speaks Koji's XML-RPC dialect with the `koji` package's own marshaller and
plugin loader, and keeps Koji's semantics for the calls koji-osbuild makes
(checked against the exchanges in testing/koji-captures/, see
testing/hub/README.md).
It is a test double, not a Koji: no policies, no inheritance, no rpms.
"""
