//! cargo-fuzz target; what it checks is `bodies::mcp`.
#![no_main]

// Each target uses one of the shared bodies.
#[allow(dead_code)]
#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::mcp(data));
