//! The few MessagePack encodings the core writes itself. Terms are encoded
//! by the JS layer (msgpackr); the table stores integers natively and hands
//! them back in the same encoding, so readers decode one format.

/// Writes `n` as the shortest MessagePack integer into `out` and returns the
/// number of bytes it takes (at most 9). If `out` is shorter than that,
/// nothing is written and the needed length is still returned.
pub fn write_int(n: i64, out: &mut [u8]) -> usize {
    let mut buf = [0u8; 9];
    let len = match n {
        0..=0x7f => {
            buf[0] = n as u8;
            1
        }
        -32..=-1 => {
            buf[0] = n as i8 as u8;
            1
        }
        0x80..=0xff => {
            buf[..2].copy_from_slice(&[0xcc, n as u8]);
            2
        }
        0x100..=0xffff => {
            buf[0] = 0xcd;
            buf[1..3].copy_from_slice(&(n as u16).to_be_bytes());
            3
        }
        0x1_0000..=0xffff_ffff => {
            buf[0] = 0xce;
            buf[1..5].copy_from_slice(&(n as u32).to_be_bytes());
            5
        }
        -0x80..=-33 => {
            buf[..2].copy_from_slice(&[0xd0, n as i8 as u8]);
            2
        }
        -0x8000..=-0x81 => {
            buf[0] = 0xd1;
            buf[1..3].copy_from_slice(&(n as i16).to_be_bytes());
            3
        }
        -0x8000_0000..=-0x8001 => {
            buf[0] = 0xd2;
            buf[1..5].copy_from_slice(&(n as i32).to_be_bytes());
            5
        }
        _ => {
            // Beyond 32 bits a JS number is written as float64: decoders such
            // as msgpackr turn int64 into bigint, which would change the type.
            buf[0] = 0xcb;
            buf[1..9].copy_from_slice(&(n as f64).to_be_bytes());
            9
        }
    };
    if let Some(dst) = out.get_mut(..len) {
        dst.copy_from_slice(&buf[..len]);
    }
    len
}

/// Appends `s` as a MessagePack string (shortest header).
pub fn push_str(s: &str, out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// The extension type of [`ABSENT`] (ironwood reserves 0x10–0x1f).
pub const ABSENT_EXT: u8 = 0x1f;

/// "No value here": a missing key inside a batch of results, where nil would
/// be a stored `null`. Written the way msgpackr writes a tagged extension
/// (`fixext1 type 0` followed by its payload, here nil).
pub const ABSENT: [u8; 4] = [0xd4, ABSENT_EXT, 0x00, 0xc0];

/// The header of an array of `count` items (always the 5-byte array32 form,
/// so it can be written before the count of bytes that follow is known).
#[must_use]
pub fn array32_header(count: u32) -> [u8; 5] {
    let c = count.to_be_bytes();
    [0xdd, c[0], c[1], c[2], c[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_forms() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (-1, &[0xff]),
            (-32, &[0xe0]),
            (-33, &[0xd0, 0xdf]),
            (256, &[0xcd, 0x01, 0x00]),
            (-129, &[0xd1, 0xff, 0x7f]),
            (70_000, &[0xce, 0x00, 0x01, 0x11, 0x70]),
            (-70_000, &[0xd2, 0xff, 0xfe, 0xee, 0x90]),
        ];
        for (n, want) in cases {
            let mut out = [0u8; 9];
            let len = write_int(*n, &mut out);
            assert_eq!(&out[..len], *want, "{n}");
        }
    }

    #[test]
    fn wide_values_are_float64() {
        let mut out = [0u8; 9];
        let n = (1i64 << 53) - 1;
        assert_eq!(write_int(n, &mut out), 9);
        assert_eq!(out[0], 0xcb);
        assert_eq!(f64::from_be_bytes(out[1..9].try_into().unwrap()), n as f64);
    }

    #[test]
    fn string_headers() {
        for (len, header) in [
            (0usize, vec![0xa0]),
            (31, vec![0xbf]),
            (32, vec![0xd9, 32]),
            (256, vec![0xda, 1, 0]),
        ] {
            let s = "x".repeat(len);
            let mut out = Vec::new();
            push_str(&s, &mut out);
            assert_eq!(&out[..header.len()], &header[..], "{len}");
            assert_eq!(out.len(), header.len() + len);
        }
        let mut out = Vec::new();
        push_str(&"y".repeat(70_000), &mut out);
        assert_eq!(&out[..5], &[0xdb, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn short_buffer_reports_need_and_writes_nothing() {
        let mut out = [0xaa; 2];
        assert_eq!(write_int(1 << 20, &mut out), 5);
        assert_eq!(out, [0xaa, 0xaa]);
    }
}
