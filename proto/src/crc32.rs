//! CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the controller journal's
//! records and the agent's buffered results; a
//! table-driven implementation small enough to own.

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = table();

fn update(mut c: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c
}

pub fn crc32(bytes: &[u8]) -> u32 {
    !update(!0, bytes)
}

/// The CRC-32 of `parts` laid end to end, without joining them.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    !parts.iter().fold(!0, |c, p| update(c, p))
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
        assert_eq!(super::crc32_parts(&[b"1234", b"", b"56789"]), 0xCBF4_3926);
    }
}
