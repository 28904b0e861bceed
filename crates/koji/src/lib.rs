//! Koji hub client: speaks XML-RPC exactly as Koji's own marshaller
//! (`koji.xmlrpcplus`) writes and reads it, with Koji's sessions, retries,
//! uploads and typed calls. It knows nothing about osbuild.
