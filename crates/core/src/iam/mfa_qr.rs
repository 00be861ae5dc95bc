//! `QRCodePNG` of CreateVirtualMFADevice (iam-admin-api.md 10): the
//! `otpauth://totp/{deviceName}@{accountName}?secret={base32}` URI as a QR
//! code (the `qrcode` crate, no image dependencies) in a PNG written here:
//! 1-bit greyscale, the image data in stored (uncompressed) deflate blocks,
//! which every PNG reader accepts. Pure: bytes in, bytes out.

use zeroize::Zeroizing;

/// Pixels per QR module.
const SCALE: usize = 4;
/// The light margin around the code, in modules (the QR standard's 4).
const QUIET_ZONE: usize = 4;

/// The key URI authenticator apps read: `otpauth://totp/{label}?secret=…`
/// with the label `{deviceName}@{accountName}` percent-encoded (the
/// account name is the user when assigned, else the account id).
pub(super) fn otpauth_uri(
    device_name: &str,
    account_name: &str,
    base32_seed: &str,
) -> Zeroizing<String> {
    let mut uri = Zeroizing::new(String::with_capacity(64 + base32_seed.len()));
    uri.push_str("otpauth://totp/");
    uri.push_str(&mayfly_sigv4::uri_encode(device_name.as_bytes(), false));
    uri.push('@');
    uri.push_str(&mayfly_sigv4::uri_encode(account_name.as_bytes(), false));
    uri.push_str("?secret=");
    uri.push_str(base32_seed);
    uri
}

/// A PNG of `text` as a QR code (error correction M), or `None` if the
/// text does not fit in a QR code.
pub(super) fn qr_code_png(text: &str) -> Option<Vec<u8>> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let dark = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    png_1bit(side, side, |x, y| {
        let (mx, my) = (x / SCALE, y / SCALE);
        let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
            && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my);
        inside
            && dark.get((my - QUIET_ZONE) * modules + (mx - QUIET_ZONE))
                == Some(&qrcode::Color::Dark)
    })
}

/// A `width` × `height` black-and-white PNG; `is_black(x, y)` per pixel.
fn png_1bit(
    width: usize,
    height: usize,
    is_black: impl Fn(usize, usize) -> bool,
) -> Option<Vec<u8>> {
    let row_len = width.div_ceil(8);
    let mut raw = Vec::with_capacity(height * (row_len + 1));
    for y in 0..height {
        raw.push(0); // filter type None
        for byte in 0..row_len {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                // Greyscale 1 is white; pad bits stay white.
                if x >= width || !is_black(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            raw.push(bits);
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&u32::try_from(width).ok()?.to_be_bytes());
    header.extend_from_slice(&u32::try_from(height).ok()?.to_be_bytes());
    // Bit depth 1, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header)?;
    chunk(&mut png, b"IDAT", &zlib_stored(&raw))?;
    chunk(&mut png, b"IEND", &[])?;
    Some(png)
}

/// One PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Option<()> {
    const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    png.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
    let mut digest = CRC32.digest();
    digest.update(kind);
    digest.update(data);
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    png.extend_from_slice(&digest.finalize().to_be_bytes());
    Some(())
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_BLOCK * 5 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        // INVARIANT: `chunks(MAX_BLOCK)` yields at most 65,535 bytes.
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn be32(bytes: &[u8]) -> u32 {
        u32::from_be_bytes(bytes.try_into().unwrap())
    }

    /// Split a PNG into its chunks, checking the signature and every CRC.
    fn chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut out = Vec::new();
        let mut rest = &png[8..];
        while !rest.is_empty() {
            let len = be32(&rest[..4]) as usize;
            let kind: [u8; 4] = rest[4..8].try_into().unwrap();
            let data = rest[8..8 + len].to_vec();
            let crc = be32(&rest[8 + len..12 + len]);
            assert_eq!(crc, CRC32.checksum(&rest[4..8 + len]), "CRC of {kind:?}");
            out.push((kind, data));
            rest = &rest[12 + len..];
        }
        out
    }

    /// Inflate a zlib stream of stored blocks, checking the Adler-32.
    fn inflate_stored(stream: &[u8]) -> Vec<u8> {
        assert_eq!(&stream[..2], &[0x78, 0x01]);
        assert_eq!((u16::from(stream[0]) << 8 | u16::from(stream[1])) % 31, 0);
        let mut out = Vec::new();
        let mut at = 2;
        loop {
            let last = stream[at] & 1 == 1;
            assert_eq!(stream[at] >> 1, 0, "stored block");
            let len = u16::from_le_bytes([stream[at + 1], stream[at + 2]]);
            let nlen = u16::from_le_bytes([stream[at + 3], stream[at + 4]]);
            assert_eq!(len, !nlen);
            out.extend_from_slice(&stream[at + 5..at + 5 + usize::from(len)]);
            at += 5 + usize::from(len);
            if last {
                break;
            }
        }
        assert_eq!(be32(&stream[at..at + 4]), adler32(&out));
        assert_eq!(at + 4, stream.len());
        out
    }

    #[test]
    fn adler32_matches_the_rfc_1950_example() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn the_uri_percent_encodes_the_label_and_carries_the_secret() {
        let uri = otpauth_uri("alice+phone", "000000000000", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/alice%2Bphone@000000000000?secret=JBSWY3DPEHPK3PXP"
        );
    }

    #[test]
    fn the_png_is_well_formed_and_shows_the_qr_code_modules() {
        let text = otpauth_uri("phone", "000000000000", &"A".repeat(64));
        let png = qr_code_png(&text).unwrap();
        let chunks = chunks(&png);
        let kinds: Vec<&[u8; 4]> = chunks.iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [b"IHDR", b"IDAT", b"IEND"]);
        let header = &chunks[0].1;
        let (width, height) = (be32(&header[..4]) as usize, be32(&header[4..8]) as usize);
        assert_eq!(&header[8..], &[1, 0, 0, 0, 0]);
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let modules = code.width();
        assert_eq!(width, (modules + 2 * QUIET_ZONE) * SCALE);
        assert_eq!(height, width);

        let raw = inflate_stored(&chunks[1].1);
        let row_len = width.div_ceil(8);
        assert_eq!(raw.len(), height * (row_len + 1));
        let black = |x: usize, y: usize| {
            let row = &raw[y * (row_len + 1)..(y + 1) * (row_len + 1)];
            assert_eq!(row[0], 0, "filter None");
            row[1 + x / 8] & (0x80 >> (x % 8)) == 0
        };
        let colors = code.to_colors();
        for my in 0..modules {
            for mx in 0..modules {
                let dark = colors[my * modules + mx] == qrcode::Color::Dark;
                // The centre pixel of each module shows it.
                let (x, y) = (
                    (mx + QUIET_ZONE) * SCALE + SCALE / 2,
                    (my + QUIET_ZONE) * SCALE + SCALE / 2,
                );
                assert_eq!(black(x, y), dark, "module ({mx}, {my})");
            }
        }
        // The quiet zone is white.
        assert!((0..width).all(|x| !black(x, 0) && !black(x, height - 1)));
    }

    #[test]
    fn large_data_spans_several_stored_blocks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(inflate_stored(&zlib_stored(&data)), data);
        assert_eq!(inflate_stored(&zlib_stored(&[])), Vec::<u8>::new());
    }
}
