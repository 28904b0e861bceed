//! `koji-osbuild`: the command-line client.
fn main() {}
