#![allow(dead_code)]
mod args;
mod config;
mod pyfmt;
fn main() {}
