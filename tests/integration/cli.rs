//! Integration tests: cli.

#[allow(unused_imports)]
use crate::fixture::*;
