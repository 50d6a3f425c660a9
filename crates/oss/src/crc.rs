//! CRC-64/XZ combination: the CRC of `a ‖ b` from `crc(a)`, `crc(b)` and `len(b)`, so a
//! multipart object's CRC can be predicted from its parts' (zlib's `crc32_combine`, GF(2)
//! matrices, carried over to 64 bits; no maintained crate offers it for CRC-64/XZ).

/// CRC-64/XZ's polynomial, bit-reflected.
const POLY: u64 = 0xC96C_5795_D787_0F42;

fn times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn square(mat: &[u64; 64]) -> [u64; 64] {
    let mut out = [0u64; 64];
    for (n, row) in out.iter_mut().enumerate() {
        *row = times(mat, mat[n]);
    }
    out
}

/// CRC-64/XZ of the concatenation of two byte strings.
pub fn combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    // The operator for one zero bit, then squared to two and four zero bits.
    let mut odd = [0u64; 64];
    odd[0] = POLY;
    for (n, row) in odd.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    let mut even = square(&odd);
    odd = square(&even);
    let (mut crc, mut len) = (crc1, len2);
    loop {
        even = square(&odd);
        if len & 1 != 0 {
            crc = times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = square(&even);
        if len & 1 != 0 {
            crc = times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc ^ crc2
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::ChecksumAlgo;
    use stowage_core::checksum::checksum_bytes;

    fn crc(data: &[u8]) -> u64 {
        checksum_bytes(data, &[ChecksumAlgo::Crc64Ecma])
            .crc64ecma
            .unwrap_or_default()
    }

    #[test]
    fn combined_equals_whole() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for split in [0, 1, 5, 4096, 123_457, 299_999, 300_000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                combine(crc(a), crc(b), b.len() as u64),
                crc(&data),
                "{split}"
            );
        }
        assert_eq!(crc(b"123456789"), 0x995D_C9BB_DF19_39FA);
    }
}
