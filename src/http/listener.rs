//! The listening socket and the process's open-file limit.

use std::net::TcpListener;

/// Pending connections the kernel queues before `accept`.
const LISTEN_BACKLOG: i32 = 1024;

/// Binds a listening TCP socket with `TCP_NODELAY` set. Linux hands the option down to every
/// accepted connection, so an answer larger than one segment never waits for the client's
/// delayed ACK (about 40 ms) behind Nagle's algorithm.
pub fn listen(addr: &str) -> Result<TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let address = addr
        .to_socket_addrs()
        .map_err(|err| format!("{addr}: {err}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|err| err.to_string())?;
    socket
        .set_reuse_address(true)
        .map_err(|err| err.to_string())?;
    socket
        .set_tcp_nodelay(true)
        .map_err(|err| err.to_string())?;
    socket
        .bind(&address.into())
        .map_err(|err| err.to_string())?;
    socket
        .listen(LISTEN_BACKLOG)
        .map_err(|err| err.to_string())?;
    Ok(socket.into())
}

/// Raises the soft limit on open files to the hard limit, as Go's runtime does at start.
///
/// Every connection costs a descriptor, so the common soft limit of 1024 would make `accept`
/// fail with `EMFILE` below the default `max_connections`. Failure to raise it is not an
/// error: the server runs with the limit it has.
pub fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(maximum),
                    maximum: Some(maximum),
                },
            );
        }
    }
}
