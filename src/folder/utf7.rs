//! Modified UTF-7 (RFC 3501 §5.1.3): how non-ASCII mailbox names travel on the wire, checked strictly so that a name is never "repaired" into another mailbox.
//!
//! The codec is total in one direction and strict in the other:
//!
//! - [`encode`] accepts every Unicode string, including control characters
//!   and NUL (RFC 3501 says "octet values 0x00-0x1f and 0x7f-0xff are
//!   represented in modified BASE64"). Whether such a name is acceptable to a
//!   server is a question for the folder map (see
//!   `NameProblem::ControlChar` in the map module), not
//!   for the codec.
//! - [`decode`] accepts exactly the strings [`encode`] produces and rejects
//!   everything else: for every `wire` that decodes, `encode(decode(wire)) ==
//!   wire`. A decoded name therefore always addresses the mailbox the server
//!   listed. A name that does not decode must be used with its raw wire bytes
//!   (or not at all); it must never be decoded leniently and re-encoded.

use std::fmt::Write as _;

/// Why a wire name is not valid modified UTF-7.
///
/// Positions are byte offsets into the wire string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Utf7Error {
    /// A character outside printable US-ASCII (0x20..=0x7e) appears raw.
    #[error("cannot decode mailbox name: character {found:?} at byte {position} must be written as modified UTF-7, not raw")]
    RawNonPrintable {
        /// Byte offset of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// A shift sequence `&…` has no closing `-`.
    #[error("cannot decode mailbox name: the sequence starting with '&' at byte {position} has no closing '-'")]
    Unterminated {
        /// Byte offset of the `&`.
        position: usize,
    },
    /// A character inside a shift sequence is not in the modified base64 alphabet.
    #[error("cannot decode mailbox name: {found:?} at byte {position} is not a modified base64 character")]
    BadBase64 {
        /// Byte offset of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The base64 bits do not end on a UTF-16 unit boundary, or the padding bits are not zero.
    #[error("cannot decode mailbox name: the sequence at byte {position} has leftover or non-zero padding bits")]
    BadPadding {
        /// Byte offset of the `&`.
        position: usize,
    },
    /// A high surrogate without a low one, or a low one without a high one.
    #[error("cannot decode mailbox name: the sequence at byte {position} holds an unpaired UTF-16 surrogate")]
    LoneSurrogate {
        /// Byte offset of the `&`.
        position: usize,
    },
    /// A shift sequence encodes a printable US-ASCII character, which must be written as itself.
    #[error("cannot decode mailbox name: the sequence at byte {position} encodes the plain character {found:?}, which must be written as itself")]
    EncodedAscii {
        /// Byte offset of the `&`.
        position: usize,
        /// The printable character that was encoded.
        found: char,
    },
    /// Two shift sequences follow each other; RFC 3501 requires them to be one.
    #[error("cannot decode mailbox name: the sequence at byte {position} directly follows another one; they must be a single sequence")]
    AdjacentShifts {
        /// Byte offset of the second `&`.
        position: usize,
    },
    /// The name decodes, but not to the unique encoding of its text (defence in depth).
    #[error("cannot decode mailbox name: it is not the canonical encoding of its text")]
    NotCanonical,
}

/// The modified base64 alphabet: standard base64 with `,` in place of `/`.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c)
}

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Encodes a mailbox name (any Unicode text) as modified UTF-7.
///
/// Printable ASCII stands for itself, `&` becomes `&-`, and every maximal run
/// of other characters becomes one `&…-` sequence of modified base64 over
/// UTF-16.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<u16> = Vec::new();
    for c in text.chars() {
        if is_direct(c) {
            flush_run(&mut out, &mut run);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_run(&mut out, &mut run);
    out
}

fn flush_run(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for unit in run.iter() {
        acc = (acc << 16) | u32::from(*unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
    run.clear();
}

/// Decodes a modified UTF-7 wire name, rejecting every form [`encode`] would not produce.
///
/// # Errors
/// Any [`Utf7Error`]: raw non-printable characters, an unterminated or
/// malformed shift sequence, unpaired surrogates, an encoded printable ASCII
/// character, or two adjacent shift sequences.
pub fn decode(wire: &str) -> Result<String, Utf7Error> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    // Byte offset just after the `-` of the last non-empty shift sequence.
    let mut last_shift_end: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b >= 0x80 || !(0x20..=0x7e).contains(&b) {
            let found = wire[i..].chars().next().unwrap_or('\u{fffd}');
            return Err(Utf7Error::RawNonPrintable { position: i, found });
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        let Some(rel_end) = bytes[start + 1..].iter().position(|&c| c == b'-') else {
            return Err(Utf7Error::Unterminated { position: start });
        };
        let end = start + 1 + rel_end;
        let body = &bytes[start + 1..end];
        if body.is_empty() {
            out.push('&');
            i = end + 1;
            continue;
        }
        if last_shift_end == Some(start) {
            return Err(Utf7Error::AdjacentShifts { position: start });
        }
        let units = decode_base64_units(body, start)?;
        decode_units(&units, start, &mut out)?;
        i = end + 1;
        last_shift_end = Some(i);
    }
    if encode(&out) != wire {
        return Err(Utf7Error::NotCanonical);
    }
    Ok(out)
}

fn decode_base64_units(body: &[u8], start: usize) -> Result<Vec<u16>, Utf7Error> {
    let mut units = Vec::with_capacity(body.len() * 6 / 16);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for (k, &c) in body.iter().enumerate() {
        let Some(v) = base64_value(c) else {
            let position = start + 1 + k;
            // `body` holds no '-' and the whole wire string was not yet checked
            // for raw 8-bit text past `start`, so report what is really there.
            let found = std::str::from_utf8(&body[k..])
                .ok()
                .and_then(|s| s.chars().next())
                .unwrap_or(char::from(c));
            if c >= 0x80 || !(0x20..=0x7e).contains(&c) {
                return Err(Utf7Error::RawNonPrintable { position, found });
            }
            return Err(Utf7Error::BadBase64 { position, found });
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // Whole units must be followed by fewer than 6 zero bits.
    if bits >= 6 || acc != 0 {
        return Err(Utf7Error::BadPadding { position: start });
    }
    Ok(units)
}

fn decode_units(units: &[u16], start: usize, out: &mut String) -> Result<(), Utf7Error> {
    for r in char::decode_utf16(units.iter().copied()) {
        let c = r.map_err(|_| Utf7Error::LoneSurrogate { position: start })?;
        if is_direct(c) {
            return Err(Utf7Error::EncodedAscii {
                position: start,
                found: c,
            });
        }
        out.push(c);
    }
    Ok(())
}

/// Renders a wire name for messages and logs, escaping anything non-printable.
pub fn escape_for_display(wire: &str) -> String {
    let mut s = String::with_capacity(wire.len());
    for c in wire.chars() {
        if is_direct(c) {
            s.push(c);
        } else {
            let _ = write!(s, "\\u{{{:x}}}", u32::from(c));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn round_trip(text: &str, wire: &str) {
        assert_eq!(encode(text), wire, "encoding {text:?}");
        assert_eq!(decode(wire).as_deref(), Ok(text), "decoding {wire:?}");
    }

    #[test]
    fn rfc_3501_example() {
        round_trip("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    }

    #[test]
    fn ampersand_is_shifted_with_an_empty_sequence() {
        round_trip("&", "&-");
        round_trip("R&D", "R&-D");
        round_trip("Tom & Jerry", "Tom &- Jerry");
        round_trip("&&", "&-&-");
    }

    #[test]
    fn empty_and_plain_names_are_unchanged() {
        round_trip("", "");
        round_trip("INBOX.Sent Items", "INBOX.Sent Items");
        round_trip("~user/#news [x] 123", "~user/#news [x] 123");
    }

    #[test]
    fn non_bmp_characters_use_surrogate_pairs() {
        round_trip("😀 Emoji", "&2D3eAA- Emoji");
        round_trip("😀", "&2D3eAA-");
        round_trip("a😀🎉b", "a&2D3eANg834k-b");
    }

    #[test]
    fn cyrillic_japanese_and_accents() {
        round_trip("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
        round_trip("送信済みアイテム", "&kAFP4W4IMH8wojCkMMYw4A-");
        round_trip("Cartório", "Cart&APM-rio");
        round_trip("Entwürfe", "Entw&APw-rfe");
        round_trip("Wiadomości-śmieci", "Wiadomo&AVs-ci-&AVs-mieci");
    }

    #[test]
    fn nfc_and_nfd_spellings_have_different_wire_forms() {
        round_trip(
            "\u{c9}l\u{e9}ments envoy\u{e9}s",
            "&AMk-l&AOk-ments envoy&AOk-s",
        );
        round_trip(
            "E\u{301}le\u{301}ments envoye\u{301}s",
            "E&AwE-le&AwE-ments envoye&AwE-s",
        );
        round_trip("Caf\u{e9}", "Caf&AOk-");
        round_trip("Cafe\u{301}", "Cafe&AwE-");
    }

    #[test]
    fn an_accent_followed_by_ampersand_is_two_sequences_not_adjacent_shifts() {
        round_trip("é&", "&AOk-&-");
        round_trip("é&é", "&AOk-&-&AOk-");
    }

    #[test]
    fn control_characters_are_encoded_not_raw() {
        round_trip("a\tb", "a&AAk-b");
        round_trip("\u{7f}", "&AH8-");
        round_trip("\0", "&AAA-");
    }

    #[test]
    fn rejects_an_encoded_printable_character() {
        assert_eq!(
            decode("&AGE-"),
            Err(Utf7Error::EncodedAscii {
                position: 0,
                found: 'a'
            })
        );
        // '&' itself must be written "&-".
        assert!(matches!(
            decode("&ACY-"),
            Err(Utf7Error::EncodedAscii { found: '&', .. })
        ));
        // A printable char hidden among non-ASCII ones is rejected too.
        assert!(matches!(
            decode("&AOkAYQ-"),
            Err(Utf7Error::EncodedAscii { found: 'a', .. })
        ));
    }

    #[test]
    fn rejects_a_missing_terminator() {
        assert_eq!(decode("&Jjo"), Err(Utf7Error::Unterminated { position: 0 }));
        assert_eq!(
            decode("x/&ZeVnLIqe"),
            Err(Utf7Error::Unterminated { position: 2 })
        );
        assert_eq!(decode("&"), Err(Utf7Error::Unterminated { position: 0 }));
    }

    #[test]
    fn rejects_adjacent_shift_sequences() {
        assert_eq!(
            decode("&AOk-&AOk-"),
            Err(Utf7Error::AdjacentShifts { position: 5 })
        );
        // The single-sequence spelling of the same text is fine.
        assert_eq!(decode("&AOkA6Q-").as_deref(), Ok("éé"));
    }

    #[test]
    fn rejects_lone_surrogates() {
        assert_eq!(
            decode("&2D0-"),
            Err(Utf7Error::LoneSurrogate { position: 0 })
        );
        // A low surrogate on its own.
        assert!(matches!(
            decode("&3gA-"),
            Err(Utf7Error::LoneSurrogate { .. })
        ));
        // A high surrogate followed by a non-surrogate.
        assert!(matches!(
            decode("&2D0A6Q-"),
            Err(Utf7Error::LoneSurrogate { .. })
        ));
    }

    #[test]
    fn rejects_bad_base64_characters() {
        // '/' is standard base64 but not modified base64.
        assert_eq!(
            decode("&U/BTFw-"),
            Err(Utf7Error::BadBase64 {
                position: 2,
                found: '/'
            })
        );
        assert!(matches!(
            decode("&AO=k-"),
            Err(Utf7Error::BadBase64 { found: '=', .. })
        ));
    }

    #[test]
    fn rejects_non_zero_padding_and_leftover_bits() {
        // "AOk" decodes 'é' with two zero padding bits; "AOl" sets one of them.
        assert_eq!(decode("&AOl-"), Err(Utf7Error::BadPadding { position: 0 }));
        // Too few bits for a whole UTF-16 unit.
        assert_eq!(decode("&AO-"), Err(Utf7Error::BadPadding { position: 0 }));
        // One base64 character too many.
        assert_eq!(decode("&AOkA-"), Err(Utf7Error::BadPadding { position: 0 }));
    }

    #[test]
    fn rejects_raw_eight_bit_and_control_characters() {
        assert_eq!(
            decode("Café"),
            Err(Utf7Error::RawNonPrintable {
                position: 3,
                found: 'é'
            })
        );
        assert!(matches!(
            decode("a\tb"),
            Err(Utf7Error::RawNonPrintable { found: '\t', .. })
        ));
        assert!(matches!(
            decode("a\u{7f}"),
            Err(Utf7Error::RawNonPrintable { .. })
        ));
        assert!(matches!(
            decode("&AOé-"),
            Err(Utf7Error::RawNonPrintable { found: 'é', .. })
        ));
    }

    #[test]
    fn escape_for_display_makes_bad_names_printable() {
        assert_eq!(escape_for_display("a\tb é"), "a\\u{9}b \\u{e9}");
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(s in any::<String>()) {
            prop_assert_eq!(decode(&encode(&s)), Ok(s));
        }

        #[test]
        fn encode_inverts_decode(wire in "[ -~]{0,24}") {
            // Any printable-ASCII string that decodes is the canonical form of
            // its text: decoding never "repairs" a name into another one.
            if let Ok(text) = decode(&wire) {
                prop_assert_eq!(encode(&text), wire);
            }
        }

        #[test]
        fn wire_form_is_printable_ascii(s in any::<String>()) {
            prop_assert!(encode(&s).bytes().all(|b| (0x20..=0x7e).contains(&b)));
        }
    }
}
