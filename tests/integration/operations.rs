//! Integration tests: operations.

#[allow(unused_imports)]
use crate::fixture::*;
