//! Node names and the Nodes gossip payload (see `docs/wire.md`).

/// Splits `name@host:port` (or a bare `host:port`) into the address to
/// dial, `host:port`. IPv6 hosts are written in brackets: `a@[::1]:4370`.
pub(crate) fn dial_address(target: &str) -> Option<(&str, u16)> {
    let addr = target.rsplit_once('@').map_or(target, |(_, a)| a);
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port == 0 {
        return None;
    }
    Some((host, port))
}

/// Whether `name` is a valid short node name.
pub(crate) fn valid_short_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Encodes a Nodes payload: `u16` count, then `u16` length + UTF-8 per name.
/// Names longer than `u16::MAX` cannot occur (Hello caps them at 255).
pub(crate) fn encode_nodes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let names: Vec<&str> = names.into_iter().take(u16::MAX as usize).collect();
    let mut out = Vec::with_capacity(2 + names.iter().map(|n| 2 + n.len()).sum::<usize>());
    out.extend_from_slice(&(names.len() as u16).to_be_bytes());
    for n in names {
        out.extend_from_slice(&(n.len() as u16).to_be_bytes());
        out.extend_from_slice(n.as_bytes());
    }
    out
}

/// Decodes a Nodes payload; `None` if it is malformed (short, trailing
/// bytes, or not UTF-8).
pub(crate) fn decode_nodes(mut p: &[u8]) -> Option<Vec<String>> {
    fn take_u16(p: &mut &[u8]) -> Option<usize> {
        let (head, rest) = p.split_first_chunk::<2>()?;
        *p = rest;
        Some(u16::from_be_bytes(*head) as usize)
    }
    let count = take_u16(&mut p)?;
    let mut names = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = take_u16(&mut p)?;
        let (name, rest) = p.split_at_checked(len)?;
        names.push(std::str::from_utf8(name).ok()?.to_owned());
        p = rest;
    }
    p.is_empty().then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_round_trip_and_refuse_garbage() {
        let p = encode_nodes(["a@127.0.0.1:1", "b@h:2"]);
        assert_eq!(decode_nodes(&p).unwrap(), ["a@127.0.0.1:1", "b@h:2"]);
        assert_eq!(
            decode_nodes(&encode_nodes([])).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(decode_nodes(&p[..p.len() - 1]), None);
        let mut long = p.clone();
        long.push(0);
        assert_eq!(decode_nodes(&long), None);
        assert_eq!(decode_nodes(&[0, 1, 0, 1, 0xff]), None);
        assert_eq!(decode_nodes(&[]), None);
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(dial_address("a@127.0.0.1:4370"), Some(("127.0.0.1", 4370)));
        assert_eq!(dial_address("127.0.0.1:4370"), Some(("127.0.0.1", 4370)));
        assert_eq!(dial_address("a@[::1]:5"), Some(("::1", 5)));
        assert_eq!(dial_address("a@h:0"), None);
        assert_eq!(dial_address("a@h"), None);
        assert!(valid_short_name("node_1.x-y"));
        assert!(!valid_short_name("a@b"));
        assert!(!valid_short_name(""));
    }
}
