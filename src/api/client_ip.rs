//! Which address a request comes from, for rate limits and logs.
//!
//! The socket peer is the client, unless the peer is one of `trusted_proxies`: then the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy. Trusting the
//! header from anyone else would let every client pick its own rate-limit bucket.

use std::net::IpAddr;

/// A trusted proxy: one address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    network: IpAddr,
    prefix_len: u8,
}

impl ProxyRange {
    /// Parses `192.0.2.7`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Option<ProxyRange> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(ProxyRange {
            network,
            prefix_len,
        })
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix_len)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn prefix_matches(network: &[u8], ip: &[u8], prefix_len: u8) -> bool {
    let full = usize::from(prefix_len / 8);
    let rest = prefix_len % 8;
    if network[..full] != ip[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (network[full] & mask) == (ip[full] & mask)
}

/// The client address of a request from `peer` carrying `forwarded_for` (the
/// `X-Forwarded-For` value), given the trusted proxies.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[ProxyRange],
) -> String {
    let Some(peer) = peer.map(canonical) else {
        return String::from("-");
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    let Some(header) = forwarded_for else {
        return peer.to_string();
    };
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => continue,
            Ok(ip) => return canonical(ip).to_string(),
            // A malformed hop ends what can be believed; the last trusted hop is the client.
            Err(_) => break,
        }
    }
    peer.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<ProxyRange> {
        list.iter().map(|r| ProxyRange::parse(r).unwrap()).collect()
    }

    #[test]
    fn ranges_parse_and_match() {
        let r = ProxyRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains("10.200.3.4".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.2.3".parse().unwrap()));
        let one = ProxyRange::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        assert!(ProxyRange::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(ProxyRange::parse("10.0.0.0/33").is_none());
        assert!(ProxyRange::parse("nonsense").is_none());
        assert!(ProxyRange::parse("10.0.0.0/12")
            .unwrap()
            .contains("10.15.255.255".parse().unwrap()));
        assert!(!ProxyRange::parse("10.0.0.0/12")
            .unwrap()
            .contains("10.16.0.0".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer = Some("203.0.113.9".parse().unwrap());
        assert_eq!(
            client_ip(peer, Some("1.2.3.4"), &ranges(&["10.0.0.0/8"])),
            "203.0.113.9"
        );
    }

    #[test]
    fn rightmost_untrusted_hop_is_the_client_behind_trusted_proxies() {
        let peer = Some("10.0.0.2".parse().unwrap());
        let trusted = ranges(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(peer, Some("6.6.6.6, 1.2.3.4, 10.0.0.5"), &trusted),
            "1.2.3.4"
        );
        assert_eq!(client_ip(peer, None, &trusted), "10.0.0.2");
        assert_eq!(client_ip(peer, Some("garbage"), &trusted), "10.0.0.2");
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), "-");
    }
}
