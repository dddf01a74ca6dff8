//! Black-box tests: each starts the real `shipstar` binary on a temporary database and a
//! free port and speaks HTTP to it. One file per area of the contract.

mod fixture;

mod audit;
mod audit_keys_content;
mod auth;
mod cli;
mod client_addresses;
mod content;
mod conventions;
mod copy;
mod dashboard;
mod dashboard_e2e;
mod fuzz_loops;
mod http11;
mod keepalive;
mod key_security;
mod keys;
mod malformed;
mod mcp;
mod nodes;
mod nodes_shared;
mod openapi;
mod operations;
mod postgres_tls;
mod public_content;
mod public_pages;
mod rate_limits;
mod schemas;
mod signing_keys;
mod slow_clients;
mod storage;
mod tenancy;
mod test_suites;
mod users;
mod webdriver;
