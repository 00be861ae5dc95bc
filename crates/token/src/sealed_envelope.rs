//! Byte layouts of the sealed blobs and their AEAD framing.
//!
//! Session token (text: standard base64 with padding, like AWS tokens):
//!
//! ```text
//! version (1 = 0x01) | key id (u32 BE) | access key id length (u8) | access key id (ASCII)
//! | nonce (12) | AES-256-GCM ciphertext of the claims JSON | tag (16)
//! ```
//!
//! Authorization message (text: base64url without padding, no line breaks):
//!
//! ```text
//! version (1 = 0x01) | key id (u32 BE) | expires at (u64 BE) | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! The AAD of each is a domain label followed by every byte before the
//! ciphertext, so the version, key id, access key id (or expiry) and nonce are
//! all authenticated; each kind also has its own subkey (see `key_ring`).

use aws_lc_rs::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use aws_lc_rs::rand::SecureRandom;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::TokenError;

/// Current session-token format version.
pub(crate) const SESSION_TOKEN_VERSION: u8 = 1;
/// Current authorization-message format version.
pub(crate) const MESSAGE_VERSION: u8 = 1;

/// Longest session token text accepted for opening (a cheap bound on work;
/// real tokens are a few KB).
pub const MAX_SESSION_TOKEN_LEN: usize = 64 * 1024;
/// Longest encoded authorization message: DecodeAuthorizationMessage accepts
/// `EncodedMessage` of 1–10240 characters (sts-api.md 9.8).
pub const MAX_AUTHORIZATION_MESSAGE_LEN: usize = 10_240;

/// Longest access key id carried in a token (the STS model: 16–128 `[\w]`).
const MAX_ACCESS_KEY_ID_LEN: usize = 128;
const TAG_LEN: usize = 16;

const SESSION_TOKEN_AAD_LABEL: &[u8] = b"mayfly-token/v1/session-token\0";
const MESSAGE_AAD_LABEL: &[u8] = b"mayfly-token/v1/authorization-message\0";

/// The cleartext (but authenticated) header of a session token.
#[derive(Debug)]
pub(crate) struct SessionTokenHeader {
    pub(crate) key_id: u32,
    pub(crate) access_key_id: String,
    nonce: [u8; NONCE_LEN],
    len: usize,
}

/// The cleartext (but authenticated) header of an authorization message.
#[derive(Debug)]
pub(crate) struct MessageHeader {
    pub(crate) key_id: u32,
    pub(crate) expires_at: u64,
    nonce: [u8; NONCE_LEN],
    len: usize,
}

/// Seals `claims_json` into session-token text.
pub(crate) fn seal_session_token(
    key: &LessSafeKey,
    key_id: u32,
    access_key_id: &str,
    claims_json: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<String, TokenError> {
    let akid_len = u8::try_from(access_key_id.len())
        .ok()
        .filter(|len| (1..=MAX_ACCESS_KEY_ID_LEN).contains(&usize::from(*len)))
        .ok_or(TokenError::Malformed {
            reason: "access key id must be 1 to 128 characters",
        })?;
    let mut sealed = Envelope::start(
        SESSION_TOKEN_AAD_LABEL,
        6 + access_key_id.len() + NONCE_LEN + claims_json.len() + TAG_LEN,
    );
    sealed.buffer.push(SESSION_TOKEN_VERSION);
    sealed.buffer.extend_from_slice(&key_id.to_be_bytes());
    sealed.buffer.push(akid_len);
    sealed.buffer.extend_from_slice(access_key_id.as_bytes());
    let text = STANDARD.encode(sealed.seal(key, claims_json, nonce)?);
    if text.len() > MAX_SESSION_TOKEN_LEN {
        return Err(TokenError::TooLong {
            len: text.len(),
            max: MAX_SESSION_TOKEN_LEN,
        });
    }
    Ok(text)
}

/// Decodes session-token text into bytes and reads its header.
pub(crate) fn decode_session_token(
    text: &str,
) -> Result<(SessionTokenHeader, Vec<u8>), TokenError> {
    if text.len() > MAX_SESSION_TOKEN_LEN {
        return Err(TokenError::Malformed {
            reason: "session token is too long",
        });
    }
    let bytes = STANDARD.decode(text).map_err(|_| TokenError::Malformed {
        reason: "session token is not canonical base64",
    })?;
    let header = parse_session_token_header(&bytes)?;
    Ok((header, bytes))
}

fn parse_session_token_header(bytes: &[u8]) -> Result<SessionTokenHeader, TokenError> {
    let mut reader = ByteReader::new(bytes);
    let version = reader.u8()?;
    if version != SESSION_TOKEN_VERSION {
        return Err(TokenError::UnsupportedVersion { version });
    }
    let key_id = u32::from_be_bytes(reader.array()?);
    let akid_len = usize::from(reader.u8()?);
    if akid_len == 0 || akid_len > MAX_ACCESS_KEY_ID_LEN {
        return Err(TokenError::Malformed {
            reason: "access key id length out of range",
        });
    }
    let akid = reader.take(akid_len)?;
    if !akid.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return Err(TokenError::Malformed {
            reason: "access key id is not [A-Za-z0-9_]",
        });
    }
    let access_key_id = String::from_utf8(akid.to_vec()).map_err(|_| TokenError::Malformed {
        reason: "access key id is not ASCII",
    })?;
    let nonce = reader.array()?;
    reader.require_tag()?;
    Ok(SessionTokenHeader {
        key_id,
        access_key_id,
        nonce,
        len: reader.position,
    })
}

/// Opens the ciphertext after `header`, returning the plaintext in place.
pub(crate) fn open_session_token<'b>(
    key: &LessSafeKey,
    header: &SessionTokenHeader,
    bytes: &'b mut [u8],
) -> Result<&'b [u8], TokenError> {
    open_after_header(
        key,
        SESSION_TOKEN_AAD_LABEL,
        header.len,
        header.nonce,
        bytes,
    )
}

/// Seals `plaintext` into authorization-message text.
pub(crate) fn seal_message(
    key: &LessSafeKey,
    key_id: u32,
    expires_at: u64,
    plaintext: &[u8],
    rng: &dyn SecureRandom,
) -> Result<String, TokenError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| TokenError::Rng)?;
    let mut sealed = Envelope::start(
        MESSAGE_AAD_LABEL,
        13 + NONCE_LEN + plaintext.len() + TAG_LEN,
    );
    sealed.buffer.push(MESSAGE_VERSION);
    sealed.buffer.extend_from_slice(&key_id.to_be_bytes());
    sealed.buffer.extend_from_slice(&expires_at.to_be_bytes());
    let text = URL_SAFE_NO_PAD.encode(sealed.seal(key, plaintext, nonce)?);
    if text.len() > MAX_AUTHORIZATION_MESSAGE_LEN {
        return Err(TokenError::TooLong {
            len: text.len(),
            max: MAX_AUTHORIZATION_MESSAGE_LEN,
        });
    }
    Ok(text)
}

/// Decodes authorization-message text into bytes and reads its header.
pub(crate) fn decode_message(text: &str) -> Result<(MessageHeader, Vec<u8>), TokenError> {
    if text.len() > MAX_AUTHORIZATION_MESSAGE_LEN {
        return Err(TokenError::Malformed {
            reason: "authorization message is too long",
        });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| TokenError::Malformed {
            reason: "authorization message is not canonical unpadded base64url",
        })?;
    let mut reader = ByteReader::new(&bytes);
    let version = reader.u8()?;
    if version != MESSAGE_VERSION {
        return Err(TokenError::UnsupportedVersion { version });
    }
    let key_id = u32::from_be_bytes(reader.array()?);
    let expires_at = u64::from_be_bytes(reader.array()?);
    let nonce = reader.array()?;
    reader.require_tag()?;
    let header = MessageHeader {
        key_id,
        expires_at,
        nonce,
        len: reader.position,
    };
    Ok((header, bytes))
}

/// Opens the ciphertext after `header`, returning the plaintext in place.
pub(crate) fn open_message<'b>(
    key: &LessSafeKey,
    header: &MessageHeader,
    bytes: &'b mut [u8],
) -> Result<&'b [u8], TokenError> {
    open_after_header(key, MESSAGE_AAD_LABEL, header.len, header.nonce, bytes)
}

/// An envelope being sealed: one buffer holding the AAD label, the
/// cleartext header, the nonce and then the ciphertext with its tag, so
/// sealing needs no second allocation or copy; only what follows the label
/// is the envelope.
struct Envelope {
    label_len: usize,
    buffer: Vec<u8>,
}

impl Envelope {
    /// An envelope whose header the caller appends to `buffer` next; `len`
    /// is the envelope's final length without the label.
    fn start(label: &[u8], len: usize) -> Self {
        let mut buffer = Vec::with_capacity(label.len() + len);
        buffer.extend_from_slice(label);
        Self {
            label_len: label.len(),
            buffer,
        }
    }

    /// Append `nonce`, then `plaintext` sealed under AAD = `label || header
    /// || nonce`; the envelope bytes (header, nonce, ciphertext, tag).
    fn seal(
        mut self,
        key: &LessSafeKey,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>, TokenError> {
        self.buffer.extend_from_slice(&nonce);
        let aad_len = self.buffer.len();
        self.buffer.extend_from_slice(plaintext);
        let (aad, in_out) = self.buffer.split_at_mut(aad_len);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*aad),
                in_out,
            )
            .map_err(|_| TokenError::Crypto)?;
        self.buffer.extend_from_slice(tag.as_ref());
        self.buffer.drain(..self.label_len);
        Ok(self.buffer)
    }
}

fn open_after_header<'b>(
    key: &LessSafeKey,
    label: &[u8],
    header_len: usize,
    nonce: [u8; NONCE_LEN],
    bytes: &'b mut [u8],
) -> Result<&'b [u8], TokenError> {
    let (header, sealed) = bytes
        .split_at_mut_checked(header_len)
        .ok_or(TokenError::Malformed {
            reason: "truncated envelope",
        })?;
    let aad = [label, &*header].concat();
    let plaintext = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_slice()),
            sealed,
        )
        .map_err(|_| TokenError::AuthenticationFailed)?;
    Ok(plaintext)
}

/// Reads fixed-size fields from the front of a byte slice without panicking.
struct ByteReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> ByteReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], TokenError> {
        let end = self
            .position
            .checked_add(len)
            .ok_or(TokenError::Malformed {
                reason: "truncated envelope",
            })?;
        let field = self
            .bytes
            .get(self.position..end)
            .ok_or(TokenError::Malformed {
                reason: "truncated envelope",
            })?;
        self.position = end;
        Ok(field)
    }

    fn u8(&mut self) -> Result<u8, TokenError> {
        let [byte] = self.array()?;
        Ok(byte)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TokenError> {
        let field = self.take(N)?;
        <[u8; N]>::try_from(field).map_err(|_| TokenError::Malformed {
            reason: "truncated envelope",
        })
    }

    /// At least a tag's worth of bytes must follow the header.
    fn require_tag(&self) -> Result<(), TokenError> {
        if self.bytes.len().saturating_sub(self.position) < TAG_LEN {
            return Err(TokenError::Malformed {
                reason: "truncated envelope",
            });
        }
        Ok(())
    }
}
