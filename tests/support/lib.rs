//! Helpers that start the test hub, the composer simulator and the builder
//! as separate processes on free loopback ports, and tear them down.
