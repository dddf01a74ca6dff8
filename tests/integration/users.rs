//! Integration tests: users.

#[allow(unused_imports)]
use crate::fixture::*;
