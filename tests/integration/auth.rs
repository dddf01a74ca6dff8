//! Integration tests: auth.

#[allow(unused_imports)]
use crate::fixture::*;
