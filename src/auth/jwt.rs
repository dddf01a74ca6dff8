//! JWT session tokens: compact JWS, `HS256` only, written here rather than taken from a JWT
//! crate so that every accepted shape is one we chose (contract: `auth.md`, "JWT session
//! tokens").
//!
//! This module is pure logic. It may use std, `hmac`, `sha2`, `base64`, `serde` and
//! `serde_json`; it must not import the HTTP layer, the store, the API glue or `rusqlite`. The
//! clock is an argument (`now`), never read here.
//!
//! # Why verification runs in this order
//!
//! [`verify`] checks a token in a fixed sequence and stops at the first failure:
//!
//! 1. **Shape.** At most [`MAX_TOKEN_BYTES`], exactly three non-empty parts of the base64url
//!    alphabet. This costs nothing, bounds all later work, and rejects JSON serialization,
//!    detached payloads, padding, whitespace and the standard alphabet before anything is
//!    decoded.
//! 2. **Header.** The header is the only attacker-controlled JSON parsed before the MAC is
//!    checked, because it names the algorithm and the key. It is parsed under the size bound
//!    above and `serde_json`'s nesting limit. `alg` is compared with the one value we allow
//!    (`HS256`); it never *selects* a verification routine, so `none`, algorithm confusion
//!    (`RS256` with the HMAC secret as "public key") and stronger-looking variants are all
//!    simply "not HS256". Any `crit` is rejected: we implement no JWS extension, and RFC 7515
//!    section 4.1.11 requires rejecting unknown critical ones (e.g. `b64: false`, RFC 7797). A
//!    `kid` must name one of our keys, so an attacker cannot point us at some other secret.
//! 3. **MAC.** The signature must decode to exactly 32 bytes and match HMAC-SHA-256 of the ASCII
//!    signing input `part0.part1` under a candidate key, compared in constant time. Truncated
//!    tags are never accepted.
//! 4. **Claims.** Only an authenticated payload is decoded and parsed, so the claims parser and
//!    everything after it only ever see bytes we signed ourselves.
//! 5. **Time and audience.** Last, since they are cheap and only meaningful for a genuine token.
//!
//! JSON objects (header and claims, at any depth) are rejected when a member name repeats:
//! `serde_json` would otherwise keep the last value, and two parsers that disagree about which
//! duplicate wins are a classic way to smuggle a claim past one of them.
//!
//! The [`JwtError`] kinds exist for logs and tests. Callers must answer every one of them with
//! the same 401 and the same message, so a client learns nothing about which rule failed.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA-256 tag in bytes; the only signature length `verify` accepts.
const TAG_BYTES: usize = 32;

/// The only `alg` header value accepted.
const ALG_HS256: &str = "HS256";

/// base64url (RFC 4648 section 5) without padding. Spelled out rather than taking
/// `URL_SAFE_NO_PAD` so the decoding rules are visible here: padding is refused, and the unused
/// low bits of the last character must be zero, so every byte string has exactly one accepted
/// encoding (a token cannot be re-encoded into a second string that still verifies).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The audience shipstar issues and accepts.
pub const AUDIENCE: &str = "shipstar:internal";

/// Longest token accepted, in bytes. Longer input is rejected before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

// ---------------------------------------------------------------------------------------------
// HMAC and base64url primitives
// ---------------------------------------------------------------------------------------------

/// A fresh HMAC-SHA-256 instance keyed with `key`, for a key of any length.
fn keyed_mac(key: &[u8]) -> HmacSha256 {
    // `Mac::new_from_slice` returns a `Result` whose error cannot happen for HMAC, and would
    // need an `unwrap`. Instead we do RFC 2104 section 2's key preparation ourselves: a key
    // longer than the block size is replaced by its hash, then the key is right-padded with
    // zeros to the block size. The resulting block-sized key is taken by the infallible
    // `KeyInit::new`, and HMAC under it is by definition identical to HMAC under `key`
    // (RFC 4231 cases 6-7 and Wycheproof's 65-byte keys in the tests cover the hashed branch).
    let mut block = Key::<HmacSha256>::default();
    if key.len() > block.len() {
        let digest = Sha256::digest(key);
        // 32 <= 64: a SHA-256 digest always fits in its own block.
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        // This branch only runs when key.len() <= block.len().
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as KeyInit>::new(&block)
}

/// HMAC-SHA-256 of `data` under `key` (RFC 2104 / RFC 4231), for a key of any length,
/// including empty.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = keyed_mac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` equals HMAC-SHA-256 of `data` under `key`, compared in constant time.
///
/// Only a full 32-byte tag can match: an empty, truncated (RFC 4231 case 5 style) or
/// over-long tag is always `false`. Session tokens never use truncated tags, and accepting them
/// would let a forger guess fewer bits.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    mac_matches(keyed_mac(key), data, tag)
}

/// Whether `tag` equals the MAC of `data` under the keyed state `mac`, compared in constant
/// time; only a full 32-byte tag can match.
fn mac_matches(mut mac: HmacSha256, data: &[u8], tag: &[u8]) -> bool {
    mac.update(data);
    // `verify_slice` rejects any length other than 32 and compares with `subtle`.
    mac.verify_slice(tag).is_ok()
}

/// base64url without padding (RFC 4648 section 5, RFC 7515 section 2). The output only
/// contains `A-Z a-z 0-9 - _` and always decodes back to `bytes` with [`b64url_decode`].
pub fn b64url_encode(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// Strict base64url decoding without padding.
///
/// Returns `None` for padding `=`, whitespace, `+`, `/`, any other non-alphabet character, an
/// impossible length, or non-zero unused bits in the last character; so each byte string has
/// exactly one accepted encoding, the one [`b64url_encode`] produces. The empty string decodes
/// to no bytes.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    B64URL.decode(text.as_bytes()).ok()
}

/// Whether `byte` belongs to the base64url alphabet (padding excluded).
fn is_b64url_byte(byte: u8) -> bool {
    B64URL_BYTES[usize::from(byte)]
}

/// [`is_b64url_byte`] as a table: every byte of every token passes through it.
const B64URL_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        byte += 1;
    }
    table
};

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// A signing key. `kid` is its public id, written into the header of tokens it signs; `secret`
/// is the HMAC key. The `Debug` output shows `kid` and `***`, never the secret.
#[derive(Clone)]
pub struct SigningKey {
    /// Public identifier, placed in the token header's `kid`.
    pub kid: String,
    /// HMAC-SHA-256 key bytes. Never logged.
    pub secret: Vec<u8>,
    /// The rotation moment of an older key: a token it signed verifies only when its `iat` is
    /// at or before this (unix seconds), so someone holding the old secret cannot mint new
    /// tokens. `None` for the key that signs now.
    pub issued_until: Option<i64>,
}

impl SigningKey {
    /// A key with no rotation bound: the one that signs now.
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> Self {
        SigningKey {
            kid: kid.into(),
            secret,
            issued_until: None,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"***")
            .field("issued_until", &self.issued_until)
            .finish()
    }
}

/// A [`SigningKey`] made ready to verify many tokens, for a server that checks one on almost
/// every request: its HMAC state is keyed once (RFC 2104's inner and outer key blocks already
/// hashed, so a check hashes only the token), and it knows the exact header part of the
/// tokens it signs. [`verify_with`] accepts exactly the tokens [`verify`] accepts for the same
/// keys. The `Debug` output hides the secret as [`SigningKey`]'s does.
#[derive(Clone)]
pub struct VerifyingKey {
    key: SigningKey,
    mac: HmacSha256,
    /// `base64url` of the header [`sign`] writes for this key: a token whose header part is
    /// exactly this has `alg` `HS256`, `typ` `JWT`, this `kid` and nothing else, since each byte
    /// string has one accepted encoding.
    header_b64: String,
}

impl VerifyingKey {
    /// Prepares `key` (one HMAC key set-up and one header encoding, done here once).
    pub fn new(key: SigningKey) -> Self {
        VerifyingKey {
            mac: keyed_mac(&key.secret),
            header_b64: b64url_encode(&header_json(&key.kid)),
            key,
        }
    }

    /// The key it was made from.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifyingKey").field(&self.key).finish()
    }
}

/// What the signature stage needs of a candidate key; implemented by [`SigningKey`] (keyed
/// for each token) and [`VerifyingKey`] (keyed once).
trait Candidate {
    fn signing_key(&self) -> &SigningKey;
    /// An HMAC-SHA-256 state keyed with the key's secret, before any data.
    fn keyed(&self) -> HmacSha256;
    /// The header part of the tokens this key signs, when known in advance.
    fn header_b64(&self) -> Option<&str>;
}

impl Candidate for SigningKey {
    fn signing_key(&self) -> &SigningKey {
        self
    }
    fn keyed(&self) -> HmacSha256 {
        keyed_mac(&self.secret)
    }
    fn header_b64(&self) -> Option<&str> {
        None
    }
}

impl Candidate for VerifyingKey {
    fn signing_key(&self) -> &SigningKey {
        &self.key
    }
    fn keyed(&self) -> HmacSha256 {
        self.mac.clone()
    }
    fn header_b64(&self) -> Option<&str> {
        Some(&self.header_b64)
    }
}

/// The claims shipstar puts in a session token. [`verify`] only returns claims whose token
/// passed every rule; unknown extra claims in a token are ignored (RFC 7519 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Subject: the user id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Session generation; the caller compares it with the stored one.
    pub gen: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expiry, unix seconds: the token is expired from this second on (plus leeway).
    pub exp: i64,
    /// Audience; must equal [`Validation::audience`].
    pub aud: String,
    /// Token id.
    pub jti: String,
    /// Not before, unix seconds; omitted from the token when `None`.
    pub nbf: Option<i64>,
}

/// What [`verify`] checks beyond the signature and the shape of the claims.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The only accepted `aud` value (exact string comparison).
    pub audience: String,
    /// Allowed clock skew in seconds, applied to `exp` and `nbf`. Negative values count as 0.
    pub leeway_secs: i64,
    /// Accept a token whose `exp` has passed. Only for the refresh route, which then applies its
    /// own grace period to `exp`; every other rule (signature, `nbf`, `aud`, claim types) still
    /// holds.
    pub allow_expired: bool,
}

impl Validation {
    /// Validation for ordinary requests: audience [`AUDIENCE`], the given leeway, expired
    /// tokens rejected.
    pub fn new(leeway_secs: i64) -> Self {
        Validation {
            audience: AUDIENCE.to_owned(),
            leeway_secs,
            allow_expired: false,
        }
    }
}

/// Why a token was rejected. Precise, for logs and tests; clients must get one uniform answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Not three non-empty base64url parts, or a part that does not decode.
    Malformed,
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLong,
    /// Header is not a JSON object without duplicate names, or `typ`/`kid` has the wrong type.
    BadHeader,
    /// `alg` missing or anything other than exactly `HS256`.
    BadAlgorithm,
    /// Header has a `crit` member.
    CriticalHeader,
    /// `kid` names no key we have.
    UnknownKey,
    /// Signed by an older key but issued (`iat`) after that key stopped signing.
    IssuedAfterRotation,
    /// Signature not 32 bytes, or the MAC does not match.
    BadSignature,
    /// Claims are not a JSON object without duplicate names holding the expected types.
    BadClaims,
    /// `exp` (plus leeway) has passed.
    Expired,
    /// `nbf` (minus leeway) is still in the future.
    NotYetValid,
    /// `aud` is not the expected audience.
    WrongAudience,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            JwtError::Malformed => "token is not three non-empty base64url parts",
            JwtError::TooLong => "token is longer than the maximum size",
            JwtError::BadHeader => "token header is not a valid JSON object",
            JwtError::BadAlgorithm => "token algorithm is not HS256",
            JwtError::CriticalHeader => "token header has a crit member",
            JwtError::UnknownKey => "token kid names no known key",
            JwtError::IssuedAfterRotation => "token was issued after its key stopped signing",
            JwtError::BadSignature => "token signature does not match",
            JwtError::BadClaims => "token claims are missing or have the wrong type",
            JwtError::Expired => "token has expired",
            JwtError::NotYetValid => "token is not yet valid",
            JwtError::WrongAudience => "token audience does not match",
        };
        f.write_str(text)
    }
}

impl std::error::Error for JwtError {}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

#[derive(Serialize)]
struct ClaimsOut<'a> {
    sub: &'a str,
    sid: &'a str,
    gen: i64,
    iat: i64,
    exp: i64,
    aud: &'a str,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
}

/// Serializes a value made only of strings, integers and options.
///
/// `serde_json` can only fail for non-string map keys, a failing `Serialize` impl or a failing
/// writer; none exists for these structs and a `Vec`. Should that ever change, the empty result
/// makes an empty token part, which `verify` rejects: the failure is closed, never a panic.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The header of every token signed with the key `kid`.
fn header_json(kid: &str) -> Vec<u8> {
    to_json(&HeaderOut {
        alg: ALG_HS256,
        typ: "JWT",
        kid,
    })
}

/// The HS256 signature, base64url-encoded, of an arbitrary `signing_input` under `secret`.
/// For `sign` and for known-answer tests such as RFC 7515 appendix A.1, whose signing input is
/// not one this module would produce.
pub fn sign_input(signing_input: &[u8], secret: &[u8]) -> String {
    b64url_encode(&hmac_sha256(secret, signing_input))
}

/// A compact HS256 token for `claims`, signed with `key`.
///
/// The header is exactly `{"alg":"HS256","typ":"JWT","kid":"<kid>"}` and the payload a JSON
/// object with `sub, sid, gen, iat, exp, aud, jti` in that order, plus `nbf` only when it is
/// `Some`. The claims are written as given (no audience or time checks here), and [`verify`]
/// with the same key and a matching [`Validation`] at a time before `exp` returns them
/// unchanged.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = header_json(&key.kid);
    let payload = to_json(&ClaimsOut {
        sub: &claims.sub,
        sid: &claims.sid,
        gen: claims.gen,
        iat: claims.iat,
        exp: claims.exp,
        aud: &claims.aud,
        jti: &claims.jti,
        nbf: claims.nbf,
    });
    let mut token = b64url_encode(&header);
    token.push('.');
    token.push_str(&b64url_encode(&payload));
    let signature = sign_input(token.as_bytes(), &key.secret);
    token.push('.');
    token.push_str(&signature);
    token
}

// ---------------------------------------------------------------------------------------------
// Strict JSON: objects with a repeated member name are an error, at any depth
// ---------------------------------------------------------------------------------------------

/// Parses `bytes` as one JSON object (nothing after it) with no repeated member names at any
/// depth, through the crate's strict JSON reader (the one request bodies go through). Integer
/// and float literals stay distinct there, which lets the claims reject non-integer times.
fn parse_unique_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match crate::json::from_slice(bytes) {
        Ok(Value::Object(members)) => Some(members),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// What the signature stage proved: the payload part (still base64url-encoded) is signed by
/// one of our keys, and the latest `iat` that key may vouch for.
#[derive(Debug, PartialEq, Eq)]
struct Signed<'t> {
    payload_b64: &'t str,
    /// `None`: no bound (the matching key signs now).
    issued_until: Option<i64>,
}

/// Steps 1-3 of the module docs: shape, header, MAC. On success returns the payload part, now
/// known to be signed by one of `keys`, with that key's rotation bound. `verify` calls this,
/// and the tests run the published JWS vectors (whose payloads are not our claims) through it
/// directly.
fn verify_signature_stage<'t, K: Candidate>(
    token: &'t str,
    keys: &[K],
) -> Result<Signed<'t>, JwtError> {
    // Step 1: size and shape.
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (header_b64, payload_b64, signature_b64) =
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => (h, p, s),
            _ => return Err(JwtError::Malformed),
        };
    for part in [header_b64, payload_b64, signature_b64] {
        if part.is_empty() || !part.bytes().all(is_b64url_byte) {
            return Err(JwtError::Malformed);
        }
    }

    // Step 2: header. A header part equal to the one a key of ours writes is that header
    // exactly (one accepted encoding per byte string), so it passes every rule below and names
    // that key: nothing to decode or parse.
    let kid = match keys.iter().find(|key| key.header_b64() == Some(header_b64)) {
        Some(key) => Some(key.signing_key().kid.as_str()),
        None => check_header(header_b64, keys)?,
    };

    // Step 3: MAC. Decoding the signature is safe before the check: it is just bytes.
    let tag = b64url_decode(signature_b64).ok_or(JwtError::Malformed)?;
    if tag.len() != TAG_BYTES {
        return Err(JwtError::BadSignature);
    }
    // The signing input is the ASCII text of the first two parts exactly as received; the two
    // parts and the dot between them are a prefix of `token`, so the slice is in bounds.
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    // Candidates: the key `kid` names, or every key when there is no `kid`. Every candidate is
    // checked (no early exit) through `mac_matches`, the constant-time check behind
    // `hmac_sha256_verify` that the published vectors exercise; which key matched is not
    // secret, but this keeps the timing independent of the tag's bytes.
    // Without a `kid`, two keys could in principle both match; the token then gets the more
    // permissive bound of the two, as either key alone would have given it.
    let mut matched = false;
    let mut issued_until = Some(i64::MIN);
    for key in keys
        .iter()
        .filter(|key| kid.is_none_or(|kid| key.signing_key().kid == kid))
    {
        let this = mac_matches(key.keyed(), signing_input, &tag);
        let key = key.signing_key();
        matched |= this;
        if this {
            issued_until = match (issued_until, key.issued_until) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
    }
    if !matched {
        return Err(JwtError::BadSignature);
    }
    Ok(Signed {
        payload_b64,
        issued_until,
    })
}

/// Step 2 for a header that is not exactly one of ours: decoded, parsed, then every rule of
/// the module docs. The `kid` it names, if any, as the key of ours that has it.
fn check_header<'k, K: Candidate>(
    header_b64: &str,
    keys: &'k [K],
) -> Result<Option<&'k str>, JwtError> {
    let header_bytes = b64url_decode(header_b64).ok_or(JwtError::Malformed)?;
    let header = parse_unique_object(&header_bytes).ok_or(JwtError::BadHeader)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALG_HS256 => {}
        _ => return Err(JwtError::BadAlgorithm),
    }
    if header.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    if let Some(typ) = header.get("typ") {
        if !typ.is_string() {
            return Err(JwtError::BadHeader);
        }
    }
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(kid)) => keys
            .iter()
            .map(|key| key.signing_key().kid.as_str())
            .find(|ours| ours == kid)
            .map(Some)
            .ok_or(JwtError::UnknownKey),
        Some(_) => Err(JwtError::BadHeader),
    }
}

/// A claim that must be a JSON string.
fn claim_str(claims: &Map<String, Value>, name: &str) -> Result<String, JwtError> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(JwtError::BadClaims),
    }
}

/// A claim that must be a JSON integer literal within `i64` (not `1.0`, not `"1"`).
fn claim_int(claims: &Map<String, Value>, name: &str) -> Result<i64, JwtError> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .ok_or(JwtError::BadClaims)
}

/// The claims of `payload` when it is exactly in the form [`sign`] writes: the members `sub`,
/// `sid`, `gen`, `iat`, `exp`, `aud`, `jti` and optionally `nbf`, in that order, no white space,
/// strings of printable ASCII without `"` or `\`, integers of plain digits (no sign, no
/// leading zero) within `i64`. Such bytes are one JSON object without repeated names whose
/// members have the right types, so the strict reader would give the very same claims: this
/// only skips its work. Anything else (`None`) goes through the strict reader.
fn canonical_claims(payload: &[u8]) -> Option<Claims> {
    let mut at = Cursor {
        bytes: payload,
        at: 0,
    };
    at.literal(b"{\"sub\":")?;
    let sub = at.string()?;
    at.literal(b",\"sid\":")?;
    let sid = at.string()?;
    at.literal(b",\"gen\":")?;
    let gen = at.integer()?;
    at.literal(b",\"iat\":")?;
    let iat = at.integer()?;
    at.literal(b",\"exp\":")?;
    let exp = at.integer()?;
    at.literal(b",\"aud\":")?;
    let aud = at.string()?;
    at.literal(b",\"jti\":")?;
    let jti = at.string()?;
    let nbf = match at.literal(b",\"nbf\":") {
        Some(()) => Some(at.integer()?),
        None => None,
    };
    at.literal(b"}")?;
    (at.at == payload.len()).then(|| Claims {
        sub: sub.to_owned(),
        sid: sid.to_owned(),
        gen,
        iat,
        exp,
        aud: aud.to_owned(),
        jti: jti.to_owned(),
        nbf,
    })
}

/// A reading position in [`canonical_claims`]' input.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Steps over `expected`, if the input continues with it.
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        rest.starts_with(expected)
            .then(|| self.at += expected.len())
    }

    /// A JSON string of printable ASCII other than `"` and `\\`: its content.
    fn string(&mut self) -> Option<&'a str> {
        self.literal(b"\"")?;
        let rest = self.bytes.get(self.at..)?;
        let len = rest.iter().position(|&b| b == b'"')?;
        let content = rest.get(..len)?;
        if !content
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
        {
            return None;
        }
        self.at += len + 1;
        // Printable ASCII is UTF-8.
        std::str::from_utf8(content).ok()
    }

    /// A JSON integer of plain digits, no sign and no leading zero, within `i64`.
    fn integer(&mut self) -> Option<i64> {
        let rest = self.bytes.get(self.at..)?;
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = rest.get(..len)?;
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut value: i64 = 0;
        for &digit in digits {
            value = value
                .checked_mul(10)?
                .checked_add(i64::from(digit - b'0'))?;
        }
        self.at += len;
        Some(value)
    }
}

/// Parses authenticated claim bytes into [`Claims`] (step 4).
fn parse_claims(payload: &[u8]) -> Result<Claims, JwtError> {
    match canonical_claims(payload) {
        Some(claims) => Ok(claims),
        None => strict_claims(payload),
    }
}

/// [`parse_claims`] through the strict JSON reader, for any bytes.
fn strict_claims(payload: &[u8]) -> Result<Claims, JwtError> {
    let members = parse_unique_object(payload).ok_or(JwtError::BadClaims)?;
    let nbf = match members.get("nbf") {
        None => None,
        Some(_) => Some(claim_int(&members, "nbf")?),
    };
    Ok(Claims {
        sub: claim_str(&members, "sub")?,
        sid: claim_str(&members, "sid")?,
        gen: claim_int(&members, "gen")?,
        iat: claim_int(&members, "iat")?,
        exp: claim_int(&members, "exp")?,
        aud: claim_str(&members, "aud")?,
        jti: claim_str(&members, "jti")?,
        nbf,
    })
}

/// Verifies a compact token and returns its claims.
///
/// `keys` are the server's signing keys, newest first; `now` is the current time in unix
/// seconds. `Ok` is returned only when every rule of the contract that this module can check
/// holds, in the order the module docs give: shape and size, header (`alg` exactly `HS256`, no
/// `crit`, a `kid` naming one of `keys`), a full 32-byte HMAC-SHA-256 tag matching in constant
/// time, claims of the right types without duplicate names, `iat` at or before the matching
/// key's [`SigningKey::issued_until`] (an older key), `aud` equal to
/// `validation.audience`, not expired (expired when `now >= exp + leeway`, so `exp == now` is
/// expired at leeway 0; skipped when `allow_expired`), and `nbf`, if present, not after
/// `now + leeway`. Session and user checks are the caller's. Never panics, whatever the input.
pub fn verify(
    token: &str,
    keys: &[SigningKey],
    validation: &Validation,
    now: i64,
) -> Result<Claims, JwtError> {
    verify_any(token, keys, validation, now)
}

/// [`verify`] with keys prepared once ([`VerifyingKey`]): the same rules, the same answer for
/// every token, less work per token.
pub fn verify_with(
    token: &str,
    keys: &[VerifyingKey],
    validation: &Validation,
    now: i64,
) -> Result<Claims, JwtError> {
    verify_any(token, keys, validation, now)
}

fn verify_any<K: Candidate>(
    token: &str,
    keys: &[K],
    validation: &Validation,
    now: i64,
) -> Result<Claims, JwtError> {
    let signed = verify_signature_stage(token, keys)?;
    let payload = b64url_decode(signed.payload_b64).ok_or(JwtError::Malformed)?;
    let claims = parse_claims(&payload)?;
    // An older key vouches only for what it signed before the rotation: with its secret
    // alone (a leaked backup, say), a token dated later is refused.
    if let Some(until) = signed.issued_until {
        if claims.iat > until {
            return Err(JwtError::IssuedAfterRotation);
        }
    }

    if claims.aud != validation.audience {
        return Err(JwtError::WrongAudience);
    }
    // Saturating arithmetic: an `exp` we signed or a `now` near the i64 limits must not
    // overflow (a panic in debug builds); saturating only ever moves the bound outwards by
    // what cannot be represented anyway.
    let leeway = validation.leeway_secs.max(0);
    if !validation.allow_expired && now >= claims.exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(JwtError::NotYetValid);
        }
    }
    Ok(claims)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(text: &str) -> Vec<u8> {
        assert!(text.len() % 2 == 0, "odd hex length: {text}");
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    const NOW: i64 = 1_700_000_000;

    fn key(kid: &str, fill: u8) -> SigningKey {
        SigningKey {
            kid: kid.to_owned(),
            secret: vec![fill; 32],
            issued_until: None,
        }
    }

    /// The server's keys, newest first.
    fn keys() -> Vec<SigningKey> {
        vec![key("k2", 0x22), key("k1", 0x11)]
    }

    fn claims() -> Claims {
        Claims {
            sub: "user-1".to_owned(),
            sid: "session-1".to_owned(),
            gen: 3,
            iat: NOW - 10,
            exp: NOW + 3600,
            aud: AUDIENCE.to_owned(),
            jti: "jti-1".to_owned(),
            nbf: None,
        }
    }

    fn check(token: &str) -> Result<Claims, JwtError> {
        verify(token, &keys(), &Validation::new(0), NOW)
    }

    /// A token with arbitrary header and payload JSON text and a correct HS256 MAC under
    /// `secret`, to show that a rule rejects a token even when its signature is good.
    fn forge(header: &str, payload: &str, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.as_bytes()),
            b64url_encode(payload.as_bytes())
        );
        let signature = sign_input(input.as_bytes(), secret);
        format!("{input}.{signature}")
    }

    const GOOD_HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;

    fn payload_with(exp: &str) -> String {
        format!(
            r#"{{"sub":"u","sid":"s","gen":1,"iat":{},"exp":{exp},"aud":"{AUDIENCE}","jti":"j"}}"#,
            NOW - 10
        )
    }

    fn good_payload() -> String {
        payload_with(&(NOW + 60).to_string())
    }

    fn forge_k1(header: &str, payload: &str) -> String {
        forge(header, payload, &key("k1", 0x11).secret)
    }

    // --- Published vectors, loaded from the files in `src/auth/vectors/` -------------------
    // The files are the published data, unchanged; `src/auth/vectors/README.md` names the
    // source of each. Every case of every file that applies to HS256 runs through the
    // production functions (`sign_input`, `hmac_sha256`, `hmac_sha256_verify`, `verify`, and
    // `verify_signature_stage` for JWS payloads that are not our claims). A failing case names
    // its file and id; nothing is printed on success.

    const RFC4231_FILE: &str = "rfc4231_hmac_sha256.json";
    const RFC4231_JSON: &str = include_str!("vectors/rfc4231_hmac_sha256.json");
    const RFC7515_A1_FILE: &str = "rfc7515_a1_hs256.json";
    const RFC7515_A1_JSON: &str = include_str!("vectors/rfc7515_a1_hs256.json");
    const RFC7519_FILE: &str = "rfc7519_examples.json";
    const RFC7519_JSON: &str = include_str!("vectors/rfc7519_examples.json");
    const WYCHEPROOF_HMAC_FILE: &str = "wycheproof_hmac_sha256_test.json";
    const WYCHEPROOF_HMAC_JSON: &str = include_str!("vectors/wycheproof_hmac_sha256_test.json");
    const WYCHEPROOF_JWS_FILE: &str = "wycheproof_jws_hs256_subset.json";
    const WYCHEPROOF_JWS_JSON: &str = include_str!("vectors/wycheproof_jws_hs256_subset.json");
    const EXTRA_KATS_FILE: &str = "jose_hs256_extra_kats.json";
    const EXTRA_KATS_JSON: &str = include_str!("vectors/jose_hs256_extra_kats.json");
    const PBKDF2_FILE: &str = "rfc7914_pbkdf2_hmac_sha256.json";
    const PBKDF2_JSON: &str = include_str!("vectors/rfc7914_pbkdf2_hmac_sha256.json");

    /// A vector file, parsed. The files are part of the source tree, so a parse failure is a
    /// broken checkout and may panic.
    fn vector_file(file: &str, text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{file}: {error}"))
    }

    /// The string member `name` of `case`; `at` (file and case id) names a missing one.
    fn text<'v>(case: &'v Value, name: &str, at: &str) -> &'v str {
        case[name]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no string member `{name}`"))
    }

    /// The array member `name` of `value`; `at` names a missing one.
    fn list<'v>(value: &'v Value, name: &str, at: &str) -> &'v [Value] {
        value[name]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("{at}: no array member `{name}`"))
    }

    /// The bytes a base64url part decodes to, as UTF-8 text.
    fn decoded_text(part: &str, at: &str) -> String {
        let bytes =
            b64url_decode(part).unwrap_or_else(|| panic!("{at}: {part:?} is not base64url"));
        String::from_utf8(bytes).unwrap_or_else(|_| panic!("{at}: {part:?} is not UTF-8"))
    }

    /// A signing key from a JWK of type `oct` (its `kid`, or `kid` when the JWK has none).
    fn oct_key(jwk: &Value, kid: &str, at: &str) -> SigningKey {
        assert_eq!(jwk["kty"], "oct", "{at}: not a symmetric key");
        let k = text(jwk, "k", at);
        SigningKey {
            kid: jwk["kid"].as_str().unwrap_or(kid).to_owned(),
            secret: b64url_decode(k).unwrap_or_else(|| panic!("{at}: k is not base64url")),
            issued_until: None,
        }
    }

    /// The RFC 7515 A.1 key, which RFC 7519 section 3.1 and RFC 7797 section 4 reuse.
    fn a1_key() -> SigningKey {
        let file = vector_file(RFC7515_A1_FILE, RFC7515_A1_JSON);
        oct_key(&file["jwk"], "rfc7515-a1", RFC7515_A1_FILE)
    }

    #[test]
    fn rfc4231_every_case_is_reproduced_and_truncated_tags_are_refused() {
        let file = vector_file(RFC4231_FILE, RFC4231_JSON);
        let cases = list(&file, "cases", RFC4231_FILE);
        assert_eq!(cases.len(), 7, "{RFC4231_FILE}: RFC 4231 has seven cases");
        for case in cases {
            let at = format!("{RFC4231_FILE} test_case {}", case["test_case"]);
            let key = hex(text(case, "key_hex", &at));
            let data = hex(text(case, "data_hex", &at));
            let expected = hex(text(case, "hmac_sha256_hex", &at));
            assert_eq!(
                Some(key.len() as u64),
                case["key_length_bytes"].as_u64(),
                "{at}"
            );
            if let Some(ascii) = case["data_ascii"].as_str() {
                assert_eq!(data, ascii.as_bytes(), "{at}: data_ascii");
            }
            let mac = hmac_sha256(&key, &data);
            match case["output_truncated_to_bits"].as_u64() {
                None => {
                    assert_eq!(mac.as_slice(), expected.as_slice(), "{at}");
                    assert!(
                        hmac_sha256_verify(&key, &data, &expected),
                        "{at}: must verify"
                    );
                }
                Some(bits) => {
                    // The RFC publishes only the leftmost `bits`: ours must start with them,
                    // and the verify path must refuse the short tag itself.
                    assert_eq!(expected.len() as u64 * 8, bits, "{at}");
                    assert_eq!(&mac[..expected.len()], expected.as_slice(), "{at}");
                    assert!(
                        !hmac_sha256_verify(&key, &data, &expected),
                        "{at}: a truncated tag must be refused"
                    );
                    let full = hex(text(
                        case,
                        "full_untruncated_hmac_sha256_hex_computed_locally",
                        &at,
                    ));
                    assert_eq!(mac.as_slice(), full.as_slice(), "{at}: full tag");
                    assert!(hmac_sha256_verify(&key, &data, &full), "{at}: full tag");
                }
            }
        }
    }

    #[test]
    fn wycheproof_hmac_sha256_every_case_gets_its_expected_result() {
        let file = vector_file(WYCHEPROOF_HMAC_FILE, WYCHEPROOF_HMAC_JSON);
        assert_eq!(file["algorithm"], "HMACSHA256", "{WYCHEPROOF_HMAC_FILE}");
        let mut seen = 0;
        for group in list(&file, "testGroups", WYCHEPROOF_HMAC_FILE) {
            let key_bits = group["keySize"].as_u64();
            let tag_bits = group["tagSize"].as_u64();
            for case in list(group, "tests", WYCHEPROOF_HMAC_FILE) {
                seen += 1;
                let at = format!("{WYCHEPROOF_HMAC_FILE} tcId {}", case["tcId"]);
                let key = hex(text(case, "key", &at));
                let msg = hex(text(case, "msg", &at));
                let tag = hex(text(case, "tag", &at));
                assert_eq!(Some(key.len() as u64 * 8), key_bits, "{at}: keySize");
                assert_eq!(Some(tag.len() as u64 * 8), tag_bits, "{at}: tagSize");
                let mac = hmac_sha256(&key, &msg);
                let accepted = hmac_sha256_verify(&key, &msg, &tag);
                let full_tag = tag.len() == TAG_BYTES;
                match text(case, "result", &at) {
                    "valid" if full_tag => {
                        assert_eq!(mac.as_slice(), tag.as_slice(), "{at}");
                        assert!(accepted, "{at}: a valid tag must verify");
                    }
                    // A truncated tag is a correct MAC that the verify path still refuses:
                    // session tokens never carry one, and accepting it would shorten what a
                    // forger has to guess.
                    "valid" => {
                        assert_eq!(&mac[..tag.len()], tag.as_slice(), "{at}");
                        assert!(!accepted, "{at}: a truncated tag must be refused");
                    }
                    "invalid" => {
                        assert!(!accepted, "{at}: an invalid tag must be refused");
                        assert_ne!(&mac[..tag.len()], tag.as_slice(), "{at}");
                    }
                    // Either answer is allowed; ours is the strict one: exactly a full tag
                    // equal to the MAC.
                    "acceptable" => {
                        assert_eq!(accepted, full_tag && mac.as_slice() == tag, "{at}");
                    }
                    other => panic!("{at}: unknown result {other:?}"),
                }
            }
        }
        assert_eq!(
            Some(seen),
            file["numberOfTests"].as_u64(),
            "{WYCHEPROOF_HMAC_FILE}: numberOfTests"
        );
    }

    /// Why each invalid Wycheproof JWS case is refused: our classification of the published
    /// cases, not part of the data. A case missing here fails the test, so a new case gets
    /// classified rather than passing on any error.
    const WYCHEPROOF_JWS_REASONS: &[(u64, JwtError)] = &[
        (2, JwtError::BadSignature),
        (3, JwtError::Malformed),
        (4, JwtError::Malformed),
        (5, JwtError::BadSignature),
        (6, JwtError::Malformed),
        (7, JwtError::Malformed),
        // The modified header names "Xid-aes-sign", a key we do not have.
        (8, JwtError::UnknownKey),
        (9, JwtError::Malformed),
        (10, JwtError::Malformed),
        (11, JwtError::Malformed),
        (12, JwtError::Malformed),
        (13, JwtError::Malformed),
        (14, JwtError::Malformed),
        (15, JwtError::Malformed),
        // `alg: none` with an empty signature: the empty part fails the shape rule first.
        (16, JwtError::Malformed),
        (17, JwtError::Malformed),
        // MACed with bytes of an EC public key and naming it: that kid is not one of ours.
        (31, JwtError::UnknownKey),
    ];

    /// The symmetric keys the Wycheproof JWS file publishes: the keys this "server" holds.
    fn wycheproof_jws_keys(file: &Value) -> Vec<SigningKey> {
        list(file, "testGroups", WYCHEPROOF_JWS_FILE)
            .iter()
            .filter(|group| group["private"]["kty"] == "oct")
            .map(|group| oct_key(&group["private"], "", WYCHEPROOF_JWS_FILE))
            .collect()
    }

    #[test]
    fn wycheproof_jws_every_case_gets_its_expected_result() {
        let file = vector_file(WYCHEPROOF_JWS_FILE, WYCHEPROOF_JWS_JSON);
        let keys = wycheproof_jws_keys(&file);
        assert_eq!(keys.len(), 1, "{WYCHEPROOF_JWS_FILE}: one HS256 key");
        let mut seen = 0;
        for group in list(&file, "testGroups", WYCHEPROOF_JWS_FILE) {
            for case in list(group, "tests", WYCHEPROOF_JWS_FILE) {
                seen += 1;
                let id = case["tcId"].as_u64();
                let at = format!("{WYCHEPROOF_JWS_FILE} tcId {}", case["tcId"]);
                let jws = text(case, "jws", &at);
                let stage = verify_signature_stage(jws, &keys).map(|_| ());
                let session = verify(jws, &keys, &Validation::new(0), NOW);
                match text(case, "result", &at) {
                    // A genuine MAC; the payload "foo" is no claims object, so it is still
                    // no session token.
                    "valid" => {
                        assert_eq!(stage, Ok(()), "{at}: the MAC must verify");
                        assert_eq!(session, Err(JwtError::BadClaims), "{at}");
                    }
                    "invalid" => {
                        let reason = WYCHEPROOF_JWS_REASONS
                            .iter()
                            .find(|(tc_id, _)| Some(*tc_id) == id)
                            .map(|&(_, reason)| reason)
                            .unwrap_or_else(|| panic!("{at}: not classified"));
                        assert_eq!(stage, Err(reason), "{at}");
                        assert_eq!(session, Err(reason), "{at}");
                    }
                    other => panic!("{at}: unexpected result {other:?} for an HS256 verifier"),
                }
            }
        }
        assert_eq!(
            seen,
            WYCHEPROOF_JWS_REASONS.len() + 1,
            "{WYCHEPROOF_JWS_FILE}"
        );
    }

    #[test]
    fn symmetric_confusion_token_fails_the_mac_even_when_its_kid_is_known() {
        // tcId 31 was MACed with bytes of an EC public key; our own secret under the kid it
        // names must not make it verify.
        let file = vector_file(WYCHEPROOF_JWS_FILE, WYCHEPROOF_JWS_JSON);
        let case = list(&file, "testGroups", WYCHEPROOF_JWS_FILE)
            .iter()
            .flat_map(|group| list(group, "tests", WYCHEPROOF_JWS_FILE))
            .find(|case| case["tcId"] == 31)
            .unwrap_or_else(|| panic!("{WYCHEPROOF_JWS_FILE}: no tcId 31"));
        let ours = SigningKey {
            kid: "kid-ec-sign".to_owned(),
            secret: wycheproof_jws_keys(&file)[0].secret.clone(),
            issued_until: None,
        };
        let jws = text(case, "jws", WYCHEPROOF_JWS_FILE);
        assert_eq!(
            verify_signature_stage(jws, &[ours]),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn rfc7515_a1_signature_is_reproduced_and_the_token_fails_on_claims() {
        let at = RFC7515_A1_FILE;
        let file = vector_file(at, RFC7515_A1_JSON);
        let a1 = a1_key();
        assert_eq!(a1.secret, hex(text(&file, "key_hex", at)), "{at}: jwk k");
        assert_eq!(
            Some(a1.secret.len() as u64),
            file["key_length_bytes"].as_u64()
        );
        let header_b64 = text(&file, "protected_header_b64url", at);
        let payload_b64 = text(&file, "payload_b64url", at);
        // The CR LF bytes inside the JSON are part of what is signed.
        assert_eq!(
            decoded_text(header_b64, at),
            text(&file, "protected_header_utf8", at)
        );
        assert_eq!(
            decoded_text(payload_b64, at),
            text(&file, "payload_utf8", at)
        );
        let input = text(&file, "signing_input_ascii", at);
        assert_eq!(input, format!("{header_b64}.{payload_b64}"), "{at}");
        let octets: Vec<u64> = input.bytes().map(u64::from).collect();
        let published: Vec<u64> = list(&file, "signing_input_octets", at)
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert_eq!(octets, published, "{at}: signing_input_octets");

        let signature_b64 = text(&file, "signature_b64url", at);
        assert_eq!(
            sign_input(input.as_bytes(), &a1.secret),
            signature_b64,
            "{at}"
        );
        let signature: Vec<u64> = hmac_sha256(&a1.secret, input.as_bytes())
            .iter()
            .map(|&byte| u64::from(byte))
            .collect();
        let published: Vec<u64> = list(&file, "signature_octets", at)
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert_eq!(signature, published, "{at}: signature_octets");

        let compact = text(&file, "expected_compact_serialization", at);
        assert_eq!(compact, format!("{input}.{signature_b64}"), "{at}");
        // No kid in the header, so the MAC is tried against every key.
        let with_a1 = [key("other", 1), a1_key()];
        assert_eq!(
            verify_signature_stage(compact, &with_a1).map(|signed| signed.payload_b64),
            Ok(payload_b64),
            "{at}"
        );
        // Its claims (`iss`, `exp` in 2011) are not a session's, so it is refused as a token,
        // before and after its `exp` alike; under our own keys the MAC itself fails.
        let exp = file["claims"]["exp"].as_i64().unwrap_or(0);
        for now in [exp - 1, NOW] {
            assert_eq!(
                verify(compact, &with_a1, &Validation::new(0), now),
                Err(JwtError::BadClaims),
                "{at}"
            );
        }
        assert_eq!(
            verify(compact, &keys(), &Validation::new(0), NOW),
            Err(JwtError::BadSignature),
            "{at}"
        );
    }

    #[test]
    fn rfc7519_every_example_is_rejected_as_a_session_token() {
        let file = vector_file(RFC7519_FILE, RFC7519_JSON);
        let a1 = vector_file(RFC7515_A1_FILE, RFC7515_A1_JSON);
        let cases = list(&file, "cases", RFC7519_FILE);
        assert_eq!(cases.len(), 2, "{RFC7519_FILE}");
        for case in cases {
            let id = text(case, "id", RFC7519_FILE);
            let at = format!("{RFC7519_FILE} {id}");
            let jwt = text(case, "jwt", &at);
            let mut parts = jwt.split('.');
            let (header_b64, claims_b64) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert_eq!(
                decoded_text(header_b64, &at),
                text(case, "header_utf8", &at)
            );
            assert_eq!(
                decoded_text(claims_b64, &at),
                text(case, "claims_utf8", &at)
            );
            assert!(text(case, "expected", &at).contains("REJECT"), "{at}");
            let keys = match case.get("key_jwk") {
                Some(jwk) => vec![oct_key(jwk, "rfc7519", &at)],
                None => vec![a1_key()],
            };
            let outcome = verify(jwt, &keys, &Validation::new(0), NOW);
            match id {
                // The example JWT is the RFC 7515 A.1 token: a good MAC, claims not ours.
                "rfc7519-3.1" => {
                    assert_eq!(jwt, text(&a1, "expected_compact_serialization", &at));
                    assert!(verify_signature_stage(jwt, &keys).is_ok(), "{at}: MAC");
                    assert_eq!(outcome, Err(JwtError::BadClaims), "{at}");
                }
                // The unsecured form: its empty signature part fails the shape rule.
                "rfc7519-6.1" => assert_eq!(outcome, Err(JwtError::Malformed), "{at}"),
                other => panic!("{RFC7519_FILE}: case {other} has no rule here"),
            }
        }
    }

    #[test]
    fn alg_none_with_a_valid_mac_is_rejected() {
        // RFC 7519 section 6.1's header, with a real HS256 MAC appended instead of nothing.
        let with_mac = forge(r#"{"alg":"none"}"#, &good_payload(), &a1_key().secret);
        assert_eq!(
            verify(&with_mac, &[a1_key()], &Validation::new(0), NOW),
            Err(JwtError::BadAlgorithm)
        );
    }

    #[test]
    fn jose_extra_kats_are_reproduced_and_none_is_a_valid_session_token() {
        let file = vector_file(EXTRA_KATS_FILE, EXTRA_KATS_JSON);
        let cases = list(&file, "cases", EXTRA_KATS_FILE);
        assert_eq!(cases.len(), 3, "{EXTRA_KATS_FILE}");
        let validation = Validation::new(0);
        for case in cases {
            let id = text(case, "id", EXTRA_KATS_FILE);
            let at = format!("{EXTRA_KATS_FILE} {id}");
            match id {
                "rfc7520-4.4" => {
                    let keys = [oct_key(&case["key_jwk"], "", &at)];
                    let input = text(case, "signing_input", &at);
                    let signature = text(case, "signature_b64url", &at);
                    assert_eq!(
                        sign_input(input.as_bytes(), &keys[0].secret),
                        signature,
                        "{at}"
                    );
                    let compact = text(case, "compact", &at);
                    assert_eq!(compact, format!("{input}.{signature}"), "{at}");
                    let (header_b64, payload_b64) = input.split_once('.').unwrap_or_default();
                    assert_eq!(
                        decoded_text(header_b64, &at),
                        text(case, "protected_header_utf8", &at)
                    );
                    assert_eq!(
                        decoded_text(payload_b64, &at),
                        text(case, "payload_utf8", &at)
                    );
                    assert!(verify_signature_stage(compact, &keys).is_ok(), "{at}: MAC");
                    // The payload is prose, not a JSON object.
                    assert_eq!(
                        verify(compact, &keys, &validation, NOW),
                        Err(JwtError::BadClaims),
                        "{at}"
                    );
                }
                // Signed with the RFC 7515 A.1 key; payload "$.02".
                "rfc7797-4.1" => {
                    let keys = [a1_key()];
                    let compact = text(case, "compact", &at);
                    let (input, signature) = compact.rsplit_once('.').unwrap_or_default();
                    let (header_b64, payload_b64) = input.split_once('.').unwrap_or_default();
                    assert_eq!(
                        decoded_text(header_b64, &at),
                        text(case, "header_utf8", &at)
                    );
                    assert_eq!(
                        decoded_text(payload_b64, &at),
                        text(case, "payload_utf8", &at)
                    );
                    assert_eq!(
                        sign_input(input.as_bytes(), &keys[0].secret),
                        signature,
                        "{at}"
                    );
                    assert!(verify_signature_stage(compact, &keys).is_ok(), "{at}: MAC");
                    assert_eq!(
                        verify(compact, &keys, &validation, NOW),
                        Err(JwtError::BadClaims),
                        "{at}"
                    );
                }
                // `b64: false` with `crit`: the raw payload is signed, which we never do.
                "rfc7797-4.2" => {
                    let keys = [a1_key()];
                    let detached = text(case, "compact_detached", &at);
                    let (header_b64, signature) = detached.split_once("..").unwrap_or_default();
                    assert_eq!(
                        decoded_text(header_b64, &at),
                        text(case, "header_utf8", &at)
                    );
                    let payload = text(case, "payload_utf8", &at);
                    let raw_input = text(case, "signing_input_ascii", &at);
                    assert_eq!(raw_input, format!("{header_b64}.{payload}"), "{at}");
                    assert_eq!(
                        sign_input(raw_input.as_bytes(), &keys[0].secret),
                        signature,
                        "{at}"
                    );
                    // The published detached form has an empty payload part: shape first.
                    assert_eq!(
                        verify(detached, &keys, &validation, NOW),
                        Err(JwtError::Malformed),
                        "{at}"
                    );
                    // The attached variant the file describes reaches the header check and
                    // is refused for its crit member.
                    let attached = format!(
                        "{header_b64}.{}.{signature}",
                        b64url_encode(payload.as_bytes())
                    );
                    assert_eq!(
                        verify(&attached, &keys, &validation, NOW),
                        Err(JwtError::CriticalHeader),
                        "{at}"
                    );
                    // Even with a correct MAC over the attached form, crit is refused.
                    let signed = forge(text(case, "header_utf8", &at), payload, &keys[0].secret);
                    assert_eq!(
                        verify(&signed, &keys, &validation, NOW),
                        Err(JwtError::CriticalHeader),
                        "{at}"
                    );
                }
                other => panic!("{EXTRA_KATS_FILE}: case {other} has no rule here"),
            }
        }
    }

    #[test]
    fn owasp_long_password_kat_is_the_hmac_key_prehash() {
        // The PBKDF2 cases of this file do not apply: the crate has no PBKDF2 (passwords are
        // Argon2id). Its related known answer does: a key longer than the SHA-256 block is
        // replaced by its digest before HMAC keying, which `keyed_mac` does.
        let file = vector_file(PBKDF2_FILE, PBKDF2_JSON);
        let at = format!("{PBKDF2_FILE} related_kat");
        let kat = &file["related_kat"];
        let password = text(kat, "password_ascii", &at).as_bytes();
        assert!(password.len() > 64, "{at}: longer than the block");
        let digest = hex(text(kat, "sha256_hex", &at));
        assert_eq!(
            Sha256::digest(password).as_slice(),
            digest.as_slice(),
            "{at}"
        );
        for message in [&b""[..], b"m", password] {
            assert_eq!(
                hmac_sha256(password, message),
                hmac_sha256(&digest, message),
                "{at}"
            );
        }
    }

    #[test]
    fn hmac_verify_rejects_empty_truncated_and_overlong_tags() {
        let mac = hmac_sha256(b"key", b"data");
        assert!(hmac_sha256_verify(b"key", b"data", &mac));
        assert!(!hmac_sha256_verify(b"key", b"data", &[]));
        assert!(!hmac_sha256_verify(b"key", b"data", &mac[..31]));
        assert!(!hmac_sha256_verify(b"key", b"data", &mac[..16]));
        let mut long = mac.to_vec();
        long.push(0);
        assert!(!hmac_sha256_verify(b"key", b"data", &long));
        assert!(!hmac_sha256_verify(b"other", b"data", &mac));
    }

    #[test]
    fn hmac_keys_padded_with_zeros_up_to_the_block_give_the_same_mac() {
        // RFC 2104: keys are zero-padded to 64 bytes, so these are the same key; 65 bytes is not.
        let short = hmac_sha256(b"abc", b"m");
        let mut padded = b"abc".to_vec();
        padded.resize(64, 0);
        assert_eq!(hmac_sha256(&padded, b"m"), short);
        padded.push(0);
        assert_ne!(hmac_sha256(&padded, b"m"), short);
        // Empty key is allowed and equals the all-zero block.
        assert_eq!(hmac_sha256(b"", b"m"), hmac_sha256(&[0; 64], b"m"));
    }

    // --- Round trips and key rotation ------------------------------------------------------

    #[test]
    fn signed_token_verifies_to_the_same_claims() {
        let token = sign(&claims(), &keys()[0]);
        assert_eq!(check(&token), Ok(claims()));
    }

    #[test]
    fn signed_token_has_the_exact_header_and_claim_order() {
        let mut with_nbf = claims();
        with_nbf.nbf = Some(NOW - 5);
        let token = sign(&with_nbf, &keys()[0]);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            b64url_decode(parts[0]).unwrap(),
            br#"{"alg":"HS256","typ":"JWT","kid":"k2"}"#
        );
        let expected = format!(
            r#"{{"sub":"user-1","sid":"session-1","gen":3,"iat":{},"exp":{},"aud":"{AUDIENCE}","jti":"jti-1","nbf":{}}}"#,
            NOW - 10,
            NOW + 3600,
            NOW - 5
        );
        assert_eq!(
            String::from_utf8(b64url_decode(parts[1]).unwrap()).unwrap(),
            expected
        );
        assert_eq!(check(&token), Ok(with_nbf));
    }

    #[test]
    fn nbf_is_omitted_when_none() {
        let token = sign(&claims(), &keys()[0]);
        let payload = b64url_decode(token.split('.').nth(1).unwrap()).unwrap();
        assert!(!String::from_utf8(payload).unwrap().contains("nbf"));
    }

    #[test]
    fn strings_needing_json_escapes_round_trip() {
        let mut odd = claims();
        odd.sub = "quote\" backslash\\ newline\n nul\u{0} snowman\u{2603}".to_owned();
        let odd_key = SigningKey {
            kid: "kid with \"quotes\"".to_owned(),
            secret: vec![7; 32],
            issued_until: None,
        };
        let token = sign(&odd, &odd_key);
        assert_eq!(
            verify(&token, &[odd_key], &Validation::new(0), NOW),
            Ok(odd)
        );
    }

    #[test]
    fn token_signed_with_an_older_key_is_accepted_when_kid_names_it() {
        let token = sign(&claims(), &keys()[1]);
        assert_eq!(check(&token), Ok(claims()));
    }

    /// `keys()` with k1 (the older key) rotated out at `until`.
    fn keys_rotated_at(until: i64) -> Vec<SigningKey> {
        let mut keys = keys();
        keys[1].issued_until = Some(until);
        keys
    }

    fn claims_issued_at(iat: i64) -> Claims {
        Claims { iat, ..claims() }
    }

    #[test]
    fn older_key_verifies_tokens_issued_at_or_before_its_rotation() {
        let keys = keys_rotated_at(NOW - 100);
        for iat in [NOW - 500, NOW - 100] {
            let token = sign(&claims_issued_at(iat), &keys[1]);
            assert_eq!(
                verify(&token, &keys, &Validation::new(0), NOW),
                Ok(claims_issued_at(iat)),
                "iat {iat}"
            );
        }
    }

    #[test]
    fn older_key_refuses_a_token_issued_after_its_rotation() {
        let keys = keys_rotated_at(NOW - 100);
        let token = sign(&claims_issued_at(NOW - 99), &keys[1]);
        assert_eq!(
            verify(&token, &keys, &Validation::new(0), NOW),
            Err(JwtError::IssuedAfterRotation)
        );
        // The same claims under the current key are fine: the bound is the key's, not the
        // token's.
        let current = sign(&claims_issued_at(NOW - 99), &keys[0]);
        assert!(verify(&current, &keys, &Validation::new(0), NOW).is_ok());
    }

    #[test]
    fn older_key_bound_holds_for_a_token_without_kid() {
        let keys = keys_rotated_at(NOW - 100);
        let payload = serde_json::to_string(&serde_json::json!({
            "sub": "u1", "sid": "s1", "gen": 0, "iat": NOW - 10, "exp": NOW + 3600,
            "aud": AUDIENCE, "jti": "j1"
        }))
        .unwrap();
        let token = forge(r#"{"alg":"HS256"}"#, &payload, &keys[1].secret);
        assert_eq!(
            verify(&token, &keys, &Validation::new(0), NOW),
            Err(JwtError::IssuedAfterRotation)
        );
    }

    #[test]
    fn token_whose_kid_names_another_of_our_keys_is_a_bad_signature() {
        // Signed with k1's secret but claims to be k2.
        let token = forge(
            r#"{"alg":"HS256","typ":"JWT","kid":"k2"}"#,
            &good_payload(),
            &keys()[1].secret,
        );
        assert_eq!(check(&token), Err(JwtError::BadSignature));
    }

    #[test]
    fn token_without_kid_is_accepted_under_any_of_our_keys() {
        let older = forge(r#"{"alg":"HS256"}"#, &good_payload(), &keys()[1].secret);
        assert!(check(&older).is_ok());
        let stranger = forge(r#"{"alg":"HS256"}"#, &good_payload(), &[9; 32]);
        assert_eq!(check(&stranger), Err(JwtError::BadSignature));
    }

    #[test]
    fn no_keys_means_nothing_verifies() {
        let token = sign(&claims(), &keys()[0]);
        assert_eq!(
            verify(&token, &[], &Validation::new(0), NOW),
            Err(JwtError::UnknownKey)
        );
        let no_kid = forge(r#"{"alg":"HS256"}"#, &good_payload(), &[0; 32]);
        assert_eq!(
            verify(&no_kid, &[], &Validation::new(0), NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn signing_key_debug_hides_the_secret() {
        let key = SigningKey {
            kid: "k-public".to_owned(),
            secret: b"super-secret-bytes".to_vec(),
            issued_until: None,
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("k-public") && shown.contains("***"),
            "{shown}"
        );
        assert!(
            !shown.contains("super") && !shown.contains("115"),
            "{shown}"
        );
    }

    #[test]
    fn validation_new_uses_our_audience_and_rejects_expired_tokens() {
        let validation = Validation::new(5);
        assert_eq!(validation.audience, AUDIENCE);
        assert_eq!(validation.leeway_secs, 5);
        assert!(!validation.allow_expired);
    }

    #[test]
    fn errors_display_a_description() {
        assert_eq!(JwtError::Expired.to_string(), "token has expired");
        let boxed: Box<dyn std::error::Error> = Box::new(JwtError::BadSignature);
        assert!(!boxed.to_string().is_empty());
    }

    // --- Algorithm, header and crit rules --------------------------------------------------

    #[test]
    fn every_other_alg_is_rejected_even_with_a_valid_hs256_signature() {
        for alg in [
            "none", "None", "NONE", "HS384", "HS512", "RS256", "ES256", "hs256", "",
        ] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#);
            let token = forge_k1(&header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::BadAlgorithm), "alg {alg:?}");
        }
    }

    #[test]
    fn missing_or_non_string_alg_is_rejected() {
        for header in [
            r#"{"typ":"JWT","kid":"k1"}"#,
            r#"{"alg":null,"kid":"k1"}"#,
            r#"{"alg":["HS256"],"kid":"k1"}"#,
            r#"{"alg":256,"kid":"k1"}"#,
            r#"{"alg":"HS256 ","kid":"k1"}"#,
        ] {
            let token = forge_k1(header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::BadAlgorithm), "{header}");
        }
    }

    #[test]
    fn crit_in_the_header_is_rejected() {
        for header in [
            r#"{"alg":"HS256","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"HS256","kid":"k1","crit":[]}"#,
            r#"{"alg":"HS256","kid":"k1","crit":null}"#,
        ] {
            let token = forge_k1(header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::CriticalHeader), "{header}");
        }
    }

    #[test]
    fn unknown_kid_is_rejected() {
        let token = forge_k1(r#"{"alg":"HS256","kid":"k9"}"#, &good_payload());
        assert_eq!(check(&token), Err(JwtError::UnknownKey));
    }

    #[test]
    fn non_string_kid_or_typ_is_a_bad_header() {
        for header in [
            r#"{"alg":"HS256","kid":1}"#,
            r#"{"alg":"HS256","kid":null}"#,
            r#"{"alg":"HS256","kid":"k1","typ":1}"#,
            r#"{"alg":"HS256","kid":"k1","typ":null}"#,
        ] {
            let token = forge_k1(header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::BadHeader), "{header}");
        }
    }

    #[test]
    fn header_that_is_not_an_object_is_rejected() {
        for header in [
            r#"["alg","HS256"]"#,
            r#""HS256""#,
            "null",
            "42",
            "not json",
            r#"{"alg":"HS256","kid":"k1"} trailing"#,
            r#"{"alg":"HS256","kid":"k1""#,
        ] {
            let token = forge_k1(header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::BadHeader), "{header}");
        }
    }

    #[test]
    fn duplicate_header_name_is_rejected() {
        for header in [
            r#"{"alg":"HS256","alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"none","alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1","\u006bid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1","x":{"a":1,"a":2}}"#,
        ] {
            let token = forge_k1(header, &good_payload());
            assert_eq!(check(&token), Err(JwtError::BadHeader), "{header}");
        }
    }

    // --- Shape rules -----------------------------------------------------------------------

    fn good_token() -> String {
        sign(&claims(), &keys()[1])
    }

    #[test]
    fn padding_is_rejected() {
        let token = good_token();
        let (input, signature) = token.rsplit_once('.').unwrap();
        // 32 bytes encode to 43 characters, whose padded form ends in one '='.
        assert_eq!(
            check(&format!("{input}.{signature}=")),
            Err(JwtError::Malformed)
        );
        let (header, rest) = token.split_once('.').unwrap();
        assert_eq!(
            check(&format!("{header}==.{rest}")),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn whitespace_anywhere_is_rejected() {
        let token = good_token();
        for ws in [" ", "\t", "\n", "\r\n"] {
            assert_eq!(check(&format!("{token}{ws}")), Err(JwtError::Malformed));
            assert_eq!(check(&format!("{ws}{token}")), Err(JwtError::Malformed));
            let inner = token.replacen('.', &format!("{ws}."), 1);
            assert_eq!(check(&inner), Err(JwtError::Malformed));
        }
    }

    #[test]
    fn standard_alphabet_characters_are_rejected() {
        // A header whose URL-safe encoding contains '-' and '_' becomes '+' and '/'.
        let header = r#"{"alg":"HS256","kid":"k1","x":"~~~???>>>"}"#;
        let token = forge_k1(header, &good_payload());
        assert!(check(&token).is_ok());
        let first = token.split('.').next().unwrap();
        assert!(first.contains('-') || first.contains('_'), "{first}");
        for (from, to) in [('-', "+"), ('_', "/")] {
            if first.contains(from) {
                let bad = token.replacen(from, to, 1);
                assert_eq!(check(&bad), Err(JwtError::Malformed));
            }
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // "QQ" is the canonical encoding of "A"; "QR" has a non-zero unused bit.
        assert_eq!(b64url_decode("QQ"), Some(b"A".to_vec()));
        assert_eq!(b64url_decode("QR"), None);
        let token = good_token();
        let (input, signature) = token.rsplit_once('.').unwrap();
        // 32 bytes take 43 characters: the last one carries 4 data bits and 2 unused bits,
        // which must be zero. Setting the lowest one keeps the data and breaks canonicality.
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        assert_eq!(signature.len(), 43);
        let last = ALPHABET.find(&signature[42..]).unwrap();
        assert_eq!(last & 0b11, 0);
        let mut altered = signature[..42].to_owned();
        altered.push_str(&ALPHABET[last | 1..=last | 1]);
        assert_eq!(
            check(&format!("{input}.{altered}")),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn b64url_decode_rejects_everything_outside_the_strict_alphabet() {
        for bad in [
            "QQ==", "QQ=", "Q Q", "QQ\n", "+w", "/w", "QQ.", "QUJD*", "Q", "é",
        ] {
            assert_eq!(b64url_decode(bad), None, "{bad:?}");
        }
        assert_eq!(b64url_decode(""), Some(Vec::new()));
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn the_token_alphabet_is_exactly_base64url_without_padding() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for byte in 0..=255u8 {
            assert_eq!(is_b64url_byte(byte), alphabet.contains(&byte), "{byte}");
        }
    }

    #[test]
    fn empty_parts_are_rejected() {
        let token = good_token();
        let parts: Vec<&str> = token.split('.').collect();
        for i in 0..3 {
            let mut emptied = parts.clone();
            emptied[i] = "";
            assert_eq!(
                check(&emptied.join(".")),
                Err(JwtError::Malformed),
                "part {i}"
            );
        }
        assert_eq!(check(".."), Err(JwtError::Malformed));
        assert_eq!(check(""), Err(JwtError::Malformed));
    }

    #[test]
    fn two_or_four_parts_are_rejected() {
        let token = good_token();
        let (input, _) = token.rsplit_once('.').unwrap();
        assert_eq!(check(input), Err(JwtError::Malformed));
        assert_eq!(check(&format!("{token}.AAAA")), Err(JwtError::Malformed));
        assert_eq!(check(&format!("{token}.")), Err(JwtError::Malformed));
    }

    #[test]
    fn token_longer_than_8_kib_is_rejected_before_parsing() {
        let pad = "x".repeat(MAX_TOKEN_BYTES);
        let header = format!(r#"{{"alg":"HS256","kid":"k1","pad":"{pad}"}}"#);
        let token = forge_k1(&header, &good_payload());
        assert!(token.len() > MAX_TOKEN_BYTES);
        assert_eq!(check(&token), Err(JwtError::TooLong));
        // Garbage of that size is TooLong too, not Malformed.
        assert_eq!(
            check(&"!".repeat(MAX_TOKEN_BYTES + 1)),
            Err(JwtError::TooLong)
        );
    }

    #[test]
    fn token_of_exactly_8_kib_is_accepted() {
        let overhead = forge_k1(r#"{"alg":"HS256","kid":"k1","pad":""}"#, &good_payload()).len();
        // Every 3 bytes of padding add 4 characters: start just above the limit and shrink the
        // pad one byte at a time until the token fits.
        let mut pad_len = (MAX_TOKEN_BYTES - overhead) * 3 / 4 + 3;
        let mut token = String::new();
        while pad_len > 0 {
            let header = format!(
                r#"{{"alg":"HS256","kid":"k1","pad":"{}"}}"#,
                "x".repeat(pad_len)
            );
            token = forge_k1(&header, &good_payload());
            if token.len() <= MAX_TOKEN_BYTES {
                break;
            }
            pad_len -= 1;
        }
        assert!(token.len() <= MAX_TOKEN_BYTES && token.len() >= MAX_TOKEN_BYTES - 2);
        assert!(check(&token).is_ok());
    }

    #[test]
    fn json_serialization_and_non_ascii_input_are_malformed() {
        assert_eq!(check(r#"{"payload":"Zm9v"}"#), Err(JwtError::Malformed));
        assert_eq!(check("é.é.é"), Err(JwtError::Malformed));
    }

    // --- MAC rules -------------------------------------------------------------------------

    #[test]
    fn tampered_payload_is_rejected() {
        let token = good_token();
        let parts: Vec<&str> = token.split('.').collect();
        let mut evil = claims();
        evil.sub = "admin".to_owned();
        let evil_payload = sign(&evil, &key("attacker", 0x99));
        let evil_part = evil_payload.split('.').nth(1).unwrap();
        let tampered = format!("{}.{}.{}", parts[0], evil_part, parts[2]);
        assert_eq!(check(&tampered), Err(JwtError::BadSignature));
    }

    #[test]
    fn tampered_header_or_signature_is_rejected() {
        let token = good_token();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut tag = b64url_decode(signature).unwrap();
        tag[0] ^= 1;
        let flipped = format!("{input}.{}", b64url_encode(&tag));
        assert_eq!(check(&flipped), Err(JwtError::BadSignature));
        // A different but valid header under the same signature.
        let rest = token.split_once('.').unwrap().1;
        let other_header = b64url_encode(br#"{"alg":"HS256","typ":"JWT","kid":"k1" }"#);
        assert_eq!(
            check(&format!("{other_header}.{rest}")),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn signature_of_the_wrong_length_is_rejected() {
        let token = good_token();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let tag = b64url_decode(signature).unwrap();
        for len in [1, 16, 31] {
            let short = format!("{input}.{}", b64url_encode(&tag[..len]));
            assert_eq!(check(&short), Err(JwtError::BadSignature), "len {len}");
        }
        let mut long = tag.clone();
        long.push(0);
        let long = format!("{input}.{}", b64url_encode(&long));
        assert_eq!(check(&long), Err(JwtError::BadSignature));
    }

    #[test]
    fn claims_are_not_parsed_before_the_mac_is_checked() {
        // Unparseable claims with a bad MAC report the MAC, proving the order.
        let token = forge(GOOD_HEADER, "not json", &[3; 32]);
        assert_eq!(check(&token), Err(JwtError::BadSignature));
    }

    // --- Claim rules -----------------------------------------------------------------------

    #[test]
    fn duplicate_claim_name_is_rejected() {
        let base = good_payload();
        let duplicated = base.replacen(r#""sub":"u""#, r#""sub":"u","sub":"admin""#, 1);
        assert_ne!(base, duplicated);
        assert_eq!(
            check(&forge_k1(GOOD_HEADER, &duplicated)),
            Err(JwtError::BadClaims)
        );
        let escaped = base.replacen(r#""gen":1"#, r#""gen":1,"g\u0065n":2"#, 1);
        assert_eq!(
            check(&forge_k1(GOOD_HEADER, &escaped)),
            Err(JwtError::BadClaims)
        );
    }

    #[test]
    fn exp_as_float_or_string_is_rejected() {
        let exp = NOW + 60;
        for bad in [
            format!("{exp}.0"),
            format!("{exp}.5"),
            format!("\"{exp}\""),
            "1.7e9".to_owned(),
            "null".to_owned(),
            "true".to_owned(),
            format!("[{exp}]"),
            "9223372036854775808".to_owned(),
        ] {
            let token = forge_k1(GOOD_HEADER, &payload_with(&bad));
            assert_eq!(check(&token), Err(JwtError::BadClaims), "exp {bad}");
        }
    }

    #[test]
    fn missing_claims_are_rejected() {
        for name in ["sub", "sid", "gen", "iat", "exp", "aud", "jti"] {
            let mut members: Map<String, Value> = serde_json::from_str(&good_payload()).unwrap();
            assert!(members.remove(name).is_some(), "{name}");
            let payload = Value::Object(members).to_string();
            let token = forge_k1(GOOD_HEADER, &payload);
            assert_eq!(check(&token), Err(JwtError::BadClaims), "without {name}");
        }
    }

    #[test]
    fn iat_missing_is_rejected() {
        let payload = format!(
            r#"{{"sub":"u","sid":"s","gen":1,"exp":{},"aud":"{AUDIENCE}","jti":"j"}}"#,
            NOW + 60
        );
        assert_eq!(
            check(&forge_k1(GOOD_HEADER, &payload)),
            Err(JwtError::BadClaims)
        );
    }

    #[test]
    fn gen_missing_is_rejected() {
        let payload = format!(
            r#"{{"sub":"u","sid":"s","iat":{},"exp":{},"aud":"{AUDIENCE}","jti":"j"}}"#,
            NOW - 10,
            NOW + 60
        );
        assert_eq!(
            check(&forge_k1(GOOD_HEADER, &payload)),
            Err(JwtError::BadClaims)
        );
    }

    #[test]
    fn claims_of_the_wrong_type_are_rejected() {
        let base = good_payload();
        for (from, to) in [
            (r#""sub":"u""#, r#""sub":1"#),
            (r#""sid":"s""#, r#""sid":null"#),
            (r#""jti":"j""#, r#""jti":["j"]"#),
            (r#""gen":1"#, r#""gen":"1""#),
            (r#""gen":1"#, r#""gen":1.0"#),
        ] {
            let payload = base.replacen(from, to, 1);
            assert_ne!(payload, base);
            let token = forge_k1(GOOD_HEADER, &payload);
            assert_eq!(check(&token), Err(JwtError::BadClaims), "{to}");
        }
        let array_aud = base.replacen(
            &format!(r#""aud":"{AUDIENCE}""#),
            &format!(r#""aud":["{AUDIENCE}"]"#),
            1,
        );
        assert_ne!(array_aud, base);
        assert_eq!(
            check(&forge_k1(GOOD_HEADER, &array_aud)),
            Err(JwtError::BadClaims)
        );
        for nbf in ["1.0", "\"1\"", "null"] {
            let payload = base.replacen('}', &format!(r#","nbf":{nbf}}}"#), 1);
            let token = forge_k1(GOOD_HEADER, &payload);
            assert_eq!(check(&token), Err(JwtError::BadClaims), "nbf {nbf}");
        }
    }

    #[test]
    fn claims_that_are_not_an_object_are_rejected() {
        for payload in ["[]", "\"claims\"", "null", "{", "{} {}"] {
            let token = forge_k1(GOOD_HEADER, payload);
            assert_eq!(check(&token), Err(JwtError::BadClaims), "{payload}");
        }
    }

    #[test]
    fn unknown_extra_claims_are_ignored() {
        let payload = good_payload().replacen('}', r#","iss":"someone","x":{"y":[1,2]}}"#, 1);
        assert!(check(&forge_k1(GOOD_HEADER, &payload)).is_ok());
    }

    // --- Audience and time rules -----------------------------------------------------------

    #[test]
    fn wrong_audience_is_rejected() {
        let mut other = claims();
        other.aud = "shipstar:public".to_owned();
        assert_eq!(
            check(&sign(&other, &keys()[0])),
            Err(JwtError::WrongAudience)
        );
        other.aud = AUDIENCE.to_uppercase();
        assert_eq!(
            check(&sign(&other, &keys()[0])),
            Err(JwtError::WrongAudience)
        );
    }

    #[test]
    fn custom_audience_is_honoured() {
        let mut other = claims();
        other.aud = "elsewhere".to_owned();
        let mut validation = Validation::new(0);
        validation.audience = "elsewhere".to_owned();
        let token = sign(&other, &keys()[0]);
        assert_eq!(verify(&token, &keys(), &validation, NOW), Ok(other));
    }

    fn expiring_at(exp: i64) -> String {
        let mut c = claims();
        c.exp = exp;
        sign(&c, &keys()[0])
    }

    #[test]
    fn token_is_expired_when_exp_equals_now() {
        assert_eq!(check(&expiring_at(NOW)), Err(JwtError::Expired));
        assert_eq!(check(&expiring_at(NOW - 1)), Err(JwtError::Expired));
        assert!(check(&expiring_at(NOW + 1)).is_ok());
    }

    #[test]
    fn exp_within_leeway_is_accepted() {
        let token = expiring_at(NOW - 5);
        assert!(verify(&token, &keys(), &Validation::new(6), NOW).is_ok());
        assert_eq!(
            verify(&token, &keys(), &Validation::new(5), NOW),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn negative_leeway_counts_as_zero() {
        assert!(verify(&expiring_at(NOW + 1), &keys(), &Validation::new(-100), NOW).is_ok());
    }

    #[test]
    fn allow_expired_accepts_an_expired_token() {
        let token = expiring_at(NOW - 86_400);
        let mut validation = Validation::new(0);
        validation.allow_expired = true;
        let verified = verify(&token, &keys(), &validation, NOW).unwrap();
        assert_eq!(verified.exp, NOW - 86_400);
    }

    #[test]
    fn allow_expired_still_checks_everything_else() {
        let mut validation = Validation::new(0);
        validation.allow_expired = true;
        let mut c = claims();
        c.exp = NOW - 10;
        c.aud = "other".to_owned();
        let token = sign(&c, &keys()[0]);
        assert_eq!(
            verify(&token, &keys(), &validation, NOW),
            Err(JwtError::WrongAudience)
        );
        c.aud = AUDIENCE.to_owned();
        c.nbf = Some(NOW + 10);
        let token = sign(&c, &keys()[0]);
        assert_eq!(
            verify(&token, &keys(), &validation, NOW),
            Err(JwtError::NotYetValid)
        );
        let forged = sign(&c, &key("k1", 0x55));
        assert_eq!(
            verify(&forged, &keys(), &validation, NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn nbf_in_the_future_is_rejected() {
        let mut c = claims();
        c.nbf = Some(NOW + 1);
        let token = sign(&c, &keys()[0]);
        assert_eq!(check(&token), Err(JwtError::NotYetValid));
        // Within leeway it is fine; nbf == now is fine.
        assert!(verify(&token, &keys(), &Validation::new(1), NOW).is_ok());
        c.nbf = Some(NOW);
        assert!(check(&sign(&c, &keys()[0])).is_ok());
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut c = claims();
        c.exp = i64::MAX;
        c.nbf = Some(i64::MIN);
        let token = sign(&c, &keys()[0]);
        assert_eq!(
            verify(&token, &keys(), &Validation::new(i64::MAX), NOW),
            Ok(c.clone())
        );
        assert_eq!(
            verify(&token, &keys(), &Validation::new(i64::MAX), i64::MAX),
            Err(JwtError::Expired)
        );
        c.nbf = Some(i64::MAX);
        let token = sign(&c, &keys()[0]);
        assert!(verify(&token, &keys(), &Validation::new(i64::MAX), 0).is_ok());
        assert_eq!(check(&token), Err(JwtError::NotYetValid));
    }

    // --- Never panics ----------------------------------------------------------------------

    /// Characters that keep a generated or mutated token interesting: the base64url alphabet
    /// (most of the time), separators, padding and a few intruders.
    const TOKEN_CHARS: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_..=+/ \n{\"";

    fn token_char() -> impl Strategy<Value = char> {
        // An index into a table is far cheaper to generate than a union of `select`s.
        (0..TOKEN_CHARS.len()).prop_map(|i| char::from(TOKEN_CHARS[i]))
    }

    fn token_string(max_len: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(token_char(), 0..max_len).prop_map(String::from_iter)
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(usize, char),
        Insert(usize, char),
        Remove(usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), token_char()).prop_map(|(i, c)| Mutation::Replace(i, c)),
            (any::<usize>(), token_char()).prop_map(|(i, c)| Mutation::Insert(i, c)),
            any::<usize>().prop_map(Mutation::Remove),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn apply(token: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        for m in mutations {
            let len = chars.len();
            match *m {
                Mutation::Replace(i, c) if len > 0 => chars[i % len] = c,
                Mutation::Insert(i, c) => chars.insert(i % (len + 1), c),
                Mutation::Remove(i) if len > 0 => {
                    chars.remove(i % len);
                }
                Mutation::Truncate(i) => chars.truncate(i % (len + 1)),
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn verify_never_panics_on_arbitrary_strings(token in any::<String>(), now in any::<i64>()) {
            let _ = verify(&token, &keys(), &Validation::new(0), now);
        }

        #[test]
        fn verify_never_panics_on_token_shaped_strings(
            token in token_string(300),
            leeway in any::<i64>(),
        ) {
            let _ = verify(&token, &keys(), &Validation::new(leeway), NOW);
        }

        #[test]
        fn verify_never_panics_on_mutations_of_a_valid_token(
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let token = good_token();
            let mutated = apply(&token, &mutations);
            let outcome = verify(&mutated, &keys(), &Validation::new(0), NOW);
            if mutated != token {
                // base64url is canonical here, so any change to the text breaks the token.
                prop_assert!(outcome.is_err(), "accepted mutation {mutated}");
            }
        }
    }

    // Generating byte vectors, regular expressions and long strings is slower in debug
    // builds; fewer cases suffice here.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn verify_never_panics_on_signed_arbitrary_header_and_claims(
            header in prop::collection::vec(any::<u8>(), 0..200),
            payload in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let input = format!("{}.{}", b64url_encode(&header), b64url_encode(&payload));
            let token = format!("{input}.{}", sign_input(input.as_bytes(), &keys()[1].secret));
            let _ = verify(&token, &keys(), &Validation::new(0), NOW);
        }

        #[test]
        fn verify_never_panics_on_signed_json_shaped_claims(
            payload in r#"\{("[a-z]{1,3}":(-?[0-9]{1,20}(\.[0-9])?|"[a-z]*"|null|\[\]|\{\}),?){0,9}\}"#,
        ) {
            let token = forge_k1(GOOD_HEADER, &payload);
            let _ = verify(&token, &keys(), &Validation::new(0), NOW);
        }

        #[test]
        fn sign_then_verify_round_trips_arbitrary_claims(
            sub in any::<String>(),
            jti in any::<String>(),
            gen in any::<i64>(),
            iat in any::<i64>(),
            ttl in 1i64..1_000_000,
        ) {
            let c = Claims {
                sub,
                sid: "s".to_owned(),
                gen,
                iat,
                exp: NOW + ttl,
                aud: AUDIENCE.to_owned(),
                jti,
                nbf: None,
            };
            let token = sign(&c, &keys()[0]);
            if token.len() <= MAX_TOKEN_BYTES {
                prop_assert_eq!(check(&token), Ok(c));
            } else {
                prop_assert_eq!(check(&token), Err(JwtError::TooLong));
            }
        }
    }

    fn prepared() -> Vec<VerifyingKey> {
        keys().into_iter().map(VerifyingKey::new).collect()
    }

    #[test]
    fn a_prepared_key_knows_the_header_part_of_the_tokens_it_signs() {
        for key in keys() {
            let token = sign(&claims(), &key);
            let header = token.split('.').next().unwrap();
            assert_eq!(VerifyingKey::new(key).header_b64, header);
        }
        let debug = format!("{:?}", prepared()[0]);
        assert!(debug.contains("k2") && debug.contains("***"), "{debug}");
        assert!(!debug.contains("34, 34"), "{debug}");
    }

    #[test]
    fn signed_claims_take_the_canonical_reader_and_odd_ones_the_strict_one() {
        let token = sign(&claims(), &keys()[0]);
        let payload = b64url_decode(token.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(canonical_claims(&payload), Some(claims()));
        let with_nbf = Claims {
            nbf: Some(NOW - 5),
            ..claims()
        };
        let token = sign(&with_nbf, &keys()[0]);
        let payload = b64url_decode(token.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(canonical_claims(&payload), Some(with_nbf));
        // White space, escapes, signs, leading zeros, another order, extra members, trailing
        // bytes, a repeated name: left to the strict reader, which decides.
        let base = r#"{"sub":"u","sid":"s","gen":1,"iat":2,"exp":3,"aud":"a","jti":"j"}"#;
        assert!(canonical_claims(base.as_bytes()).is_some());
        for odd in [
            base.replace(":1,", ": 1,"),
            base.replace("\"u\"", "\"\\u0075\""),
            base.replace(":1,", ":-1,"),
            base.replace(":1,", ":01,"),
            base.replace(":1,", ":1.0,"),
            base.replace(":1,", ":99999999999999999999,"),
            base.replace(r#""sub":"u","sid":"s""#, r#""sid":"s","sub":"u""#),
            base.replace('}', r#","x":1}"#),
            base.replace('}', r#","nbf":1,"nbf":2}"#),
            format!("{base} "),
            base.replace("\"u\"", "\"\u{e9}\""),
            base.replace("\"u\"", "\"\t\""),
        ] {
            assert_eq!(canonical_claims(odd.as_bytes()), None, "{odd}");
        }
        assert_eq!(
            parse_claims(base.replace('}', r#","nbf":1,"nbf":2}"#).as_bytes()),
            Err(JwtError::BadClaims)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn the_canonical_claims_reader_agrees_with_the_strict_reader(
            payload in r#"\{"sub":"[ -~]{0,4}","sid":"[a-z\\]{0,3}","gen":-?[0-9]{1,20},"iat":[0-9]{1,3},"exp":[0-9. ]{1,3},"aud":"[a-z:]{0,4}","jti":"[ -~é]{0,3}"(,"nbf":[0-9]{1,3}){0,2}\} ?"#,
        ) {
            if let Some(fast) = canonical_claims(payload.as_bytes()) {
                prop_assert_eq!(strict_claims(payload.as_bytes()), Ok(fast));
            }
        }

        #[test]
        fn prepared_keys_accept_and_refuse_exactly_what_plain_keys_do(
            mutations in prop::collection::vec(mutation(), 0..4),
            token in token_string(200),
            payload in r#"\{("[a-z]{1,3}":(-?[0-9]{1,20}(\.[0-9])?|"[a-z]*"|null|\[\]|\{\}),?){0,9}\}"#,
            header in prop::sample::select(vec![
                GOOD_HEADER.to_owned(),
                r#"{"alg":"HS256","typ":"JWT","kid":"k2"}"#.to_owned(),
                r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
                r#"{"alg":"HS256","typ":"JWT","kid":"k9"}"#.to_owned(),
                r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#.to_owned(),
                r#"{"alg":"none","typ":"JWT","kid":"k1"}"#.to_owned(),
            ]),
        ) {
            let validation = Validation::new(0);
            let forged = forge_k1(&header, &payload);
            for candidate in [apply(&good_token(), &mutations), token, forged] {
                prop_assert_eq!(
                    verify_with(&candidate, &prepared(), &validation, NOW),
                    verify(&candidate, &keys(), &validation, NOW),
                    "{}", candidate
                );
            }
        }
    }
}
