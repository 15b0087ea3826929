//! Who is asking: the client address recorded in the audit log and used to limit failed
//! sign-ins. Behind a reverse proxy every request comes from the proxy, so one attacker could
//! lock out everyone (and the log would name only the proxy). When the peer is one of
//! `[server] trusted_proxies`, the client is the right-most `X-Forwarded-For` entry that is not
//! itself a trusted proxy; entries further left were written by the client and prove nothing.
//! From any other peer the header is ignored, so it cannot be forged from outside.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

pub fn address(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer.ip());
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
        .collect();
    hops.into_iter()
        .rev()
        .find(|hop| !trusted.contains(hop))
        .unwrap_or(peer)
}

/// `::ffff:10.0.0.1` and `10.0.0.1` are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let peer = SocketAddr::new(proxy, 5000);
        let stranger = SocketAddr::new("203.0.113.9".parse().unwrap(), 5000);
        let forged = headers(&["1.1.1.1, 198.51.100.7"]);
        assert_eq!(address(peer, &forged, &[]), proxy, "no proxy configured");
        assert_eq!(
            address(stranger, &forged, &[proxy]),
            stranger.ip(),
            "an untrusted peer cannot claim another address"
        );
        assert_eq!(
            address(peer, &forged, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "the right-most hop, added by the proxy, not the client's own claim"
        );
        let two = headers(&["1.1.1.1", "198.51.100.7, 10.0.0.2"]);
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            address(peer, &two, &[proxy, inner]),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "a chain of trusted proxies is skipped"
        );
        assert_eq!(address(peer, &headers(&["junk"]), &[proxy]), proxy);
        let mapped = SocketAddr::new("::ffff:127.0.0.1".parse().unwrap(), 1);
        assert_eq!(
            address(mapped, &forged, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }
}
