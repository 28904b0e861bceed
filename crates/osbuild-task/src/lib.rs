//! The osbuildImage contract shared by the hub plugin, the CLI and the
//! builder: argument types, the JSON schema file, and validation.
