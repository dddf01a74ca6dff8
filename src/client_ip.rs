//! Which address a request comes from, for rate limits, sessions, logs and connection caps.
//!
//! The socket peer is the client, unless the peer is one of `trusted_proxies`: then the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy. Trusting the
//! header from anyone else would let every client pick its own rate-limit bucket.
//!
//! This is plain logic over addresses and header values, with no HTTP types, so that both the
//! HTTP layer (the per-address connection cap exempts trusted proxies) and `api` (everything
//! else) use one parser of proxy ranges and one rule. It must not import `http`, `api`, `auth`
//! or `store`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A trusted proxy: one address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    network: IpAddr,
    prefix_len: u8,
}

impl ProxyRange {
    /// Parses `192.0.2.7`, `10.0.0.0/8`, `::1` or `fd00::/8`; `None` for anything else.
    ///
    /// The one parser of proxy ranges: config validation uses it too, so a value passes the
    /// config check exactly when it can be used. It is strict: no white space anywhere, a
    /// prefix length of ASCII digits only (no sign, not empty) and at most 32 (IPv4) or 128
    /// (IPv6), a single `/`.
    pub fn parse(text: &str) -> Option<ProxyRange> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        // `IpAddr`'s parser refuses white space and anything but an address.
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            // `u8::from_str` would accept a leading `+`; only digits are a prefix length.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(ProxyRange {
            network,
            prefix_len,
        })
    }

    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as its IPv4 one).
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

/// The configured `trusted_proxies`, parsed once at start-up and shared by every user of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<ProxyRange>,
}

impl TrustedProxies {
    /// Parses every entry; the error names the first one that is not an IP or CIDR range.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let ranges = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref();
                ProxyRange::parse(entry).ok_or_else(|| format!("{entry:?} is not an IP or CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies { ranges })
    }

    /// Whether `ip` lies in one of the ranges. Nothing is trusted when the list is empty.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 peers)
/// stand for the IPv4 address they carry, so one client has one address whichever way it came.
pub fn canonical(ip: IpAddr) -> IpAddr {
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

/// The client address of a request from `peer`, given the values of every `X-Forwarded-For`
/// field line in arrival order (`forwarded_for`) and the trusted proxies. `None` only when the
/// peer is unknown.
///
/// The rule, and why each part of it is safe:
///
/// * A peer that is not a trusted proxy is the client; its header is ignored.
/// * Several field lines are one comma-separated list, in order (RFC 9110 section 5.3): a proxy
///   that appends a line of its own instead of extending the last one must not let the
///   client's own line be read as the proxy's. Empty elements are ignored (section 5.6.1);
///   only SP and HTAB count as white space around an element.
/// * The list is read from the right, skipping trusted proxies; the first other address is
///   the client. Everything to its left was written by the client and is never believed.
/// * An element may carry a port (`192.0.2.1:5000`, `[2001:db8::1]:443`) or brackets; the
///   address alone counts, so a port never makes a new client.
/// * An element that is not an address (`unknown`, `1.2.3.4 junk`, a host name) ends what can
///   be believed: the answer is then the peer, never an address further left, since those are
///   the client's to choose. All such clients share the proxy's address, which none of them
///   can change.
/// * A list of trusted proxies only (or none at all) names nobody further: the peer.
pub fn client_ip<'a, I>(
    peer: Option<IpAddr>,
    forwarded_for: I,
    trusted: &TrustedProxies,
) -> Option<IpAddr>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: DoubleEndedIterator,
{
    let peer = canonical(peer?);
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let hops = forwarded_for
        .into_iter()
        .rev()
        .flat_map(|line| line.rsplit(','))
        .map(|hop| hop.trim_matches([' ', '\t']))
        .filter(|hop| !hop.is_empty());
    for hop in hops {
        match parse_hop(hop).map(canonical) {
            Some(ip) if trusted.contains(ip) => continue,
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    Some(peer)
}

/// One `X-Forwarded-For` element: an IPv4 or IPv6 address, optionally bracketed (IPv6) and
/// optionally followed by `:port`. Nothing else: no zone ids, no names, no inner white space.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_port) {
            return None;
        }
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    // An unbracketed IPv6 address with a port would be ambiguous; only IPv4 takes one bare.
    let (host, port) = hop.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok()
}

/// `ip` as written in logs and session rows, `-` when unknown.
pub fn display(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| String::from("-"), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    /// The client behind `peer` when the request carries these field lines.
    fn behind(peer: &str, lines: &[&str], trusted: &[&str]) -> String {
        display(client_ip(
            ip(peer),
            lines.iter().copied(),
            &proxies(trusted),
        ))
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
    fn range_parsing_is_strict() {
        for good in [
            "10.0.0.0/0",
            "10.0.0.0/32",
            "::/0",
            "::1/128",
            "10.0.0.0/008",
        ] {
            assert!(ProxyRange::parse(good).is_some(), "{good:?}");
        }
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-0",
            "10.0.0.0/ 8",
            "10.0.0.0 /8",
            " 10.0.0.1",
            "10.0.0.1 ",
            "10.0.0.0/8 ",
            "10.0.0.0/8/8",
            "10.0.0.0/0x8",
            "10.0.0.0/256",
            "::1/129",
            "[::1]",
            "10.0.0.1:80",
            "localhost",
        ] {
            assert_eq!(ProxyRange::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_trusted_proxy_is_named_in_the_error() {
        let err = TrustedProxies::parse(&["10.0.0.0/8", "10.0.0.0/40"]).unwrap_err();
        assert!(err.contains("10.0.0.0/40"), "{err}");
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        assert_eq!(
            behind("203.0.113.9", &["1.2.3.4"], &["10.0.0.0/8"]),
            "203.0.113.9"
        );
        assert_eq!(behind("203.0.113.9", &["1.2.3.4"], &[]), "203.0.113.9");
    }

    #[test]
    fn rightmost_untrusted_hop_is_the_client_behind_trusted_proxies() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            behind("10.0.0.2", &["6.6.6.6, 1.2.3.4, 10.0.0.5"], &trusted),
            "1.2.3.4"
        );
        assert_eq!(behind("10.0.0.2", &[], &trusted), "10.0.0.2");
        assert_eq!(
            behind("10.0.0.2", &["10.0.0.7, 10.0.0.5"], &trusted),
            "10.0.0.2"
        );
        let none = client_ip(None, ["1.2.3.4"], &proxies(&trusted));
        assert_eq!(display(none), "-");
    }

    #[test]
    fn several_field_lines_are_one_list_in_order() {
        let trusted = ["10.0.0.0/8"];
        // The client's own line first, then the line its proxy appended: the proxy's wins.
        assert_eq!(
            behind("10.0.0.2", &["198.51.100.1", "203.0.113.7"], &trusted),
            "203.0.113.7"
        );
        assert_eq!(
            behind(
                "10.0.0.2",
                &["198.51.100.1, 198.51.100.2", "203.0.113.7, 10.0.0.9"],
                &trusted
            ),
            "203.0.113.7"
        );
        // The same list split anywhere gives the same answer.
        assert_eq!(
            behind("10.0.0.2", &["6.6.6.6", "1.2.3.4", "10.0.0.5"], &trusted),
            behind("10.0.0.2", &["6.6.6.6, 1.2.3.4, 10.0.0.5"], &trusted),
        );
    }

    #[test]
    fn a_malformed_element_never_lets_the_client_choose() {
        let trusted = ["10.0.0.0/8"];
        for bad in [
            "garbage",
            "unknown",
            "1.2.3.4 5.6.7.8",
            "1.2.3.4:",
            "1.2.3.4:99999",
            "1.2.3.4:+80",
            "fe80::1%eth0",
            "2001:db8::1:80x",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[1.2.3.4]",
            "1.2.3.4\u{a0}",
            "010.0.0.1",
        ] {
            // Whatever the client wrote to the left, the answer is the proxy itself.
            let line = format!("198.51.100.1, {bad}, 10.0.0.5");
            assert_eq!(
                behind("10.0.0.2", &[&line], &trusted),
                "10.0.0.2",
                "{bad:?}"
            );
            assert_eq!(
                behind("10.0.0.2", &["198.51.100.1", bad], &trusted),
                "10.0.0.2",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ports_brackets_and_white_space_are_read_as_one_address() {
        let trusted = ["10.0.0.0/8", "fd00::/8"];
        for (element, client) in [
            ("203.0.113.7:5000", "203.0.113.7"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            ("\t 203.0.113.7 \t", "203.0.113.7"),
        ] {
            let line = format!("198.51.100.1,{element},10.0.0.5");
            assert_eq!(
                behind("10.0.0.2", &[&line], &trusted),
                client,
                "{element:?}"
            );
        }
        // Empty elements and empty lines are skipped, not read as malformed.
        assert_eq!(
            behind("10.0.0.2", &["203.0.113.7, ,", ""], &trusted),
            "203.0.113.7"
        );
        // A trusted proxy given with a port is still a trusted proxy.
        assert_eq!(
            behind(
                "10.0.0.2",
                &["203.0.113.7, [fd00::3]:8080, 10.0.0.5:1234"],
                &trusted
            ),
            "203.0.113.7"
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_matched_and_shown_as_ipv4() {
        assert_eq!(
            behind("::ffff:10.0.0.2", &["203.0.113.7"], &["10.0.0.0/8"]),
            "203.0.113.7"
        );
        assert_eq!(behind("::ffff:192.0.2.1", &[], &[]), "192.0.2.1");
    }
}
