//! The wire primitives shared by every packet: the variable byte integer, big-endian
//! two- and four-byte integers, UTF-8 strings and binary data (MQTT 3.1.1 section 1.5,
//! MQTT 5.0 section 1.5).
//!
//! Decoding goes through [`Reader`], a cursor over one packet's body that checks every
//! length against the bytes that are actually there before slicing, so a length field can
//! never make the decoder read past the packet or allocate more than the packet holds.
//! Encoding is split in two: the `*_len` functions validate a value and return its encoded
//! size, and the `put_*` functions write a value that has already been validated, so the
//! caller can size its output buffer exactly before writing a single byte.

use super::{DecodeError, EncodeError};

/// The largest value a variable byte integer can hold: 268,435,455 (four bytes of seven
/// bits) [MQTT-1.5.5-1]. It bounds the remaining length and subscription identifiers.
pub const VAR_INT_MAX: u32 = 268_435_455;

/// The largest length of a UTF-8 string or binary data field: its length prefix is a
/// two-byte integer.
pub(crate) const FIELD_MAX: usize = u16::MAX as usize;

/// Reads a variable byte integer from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` ends before the last byte of the integer (every byte seen
/// so far has its continuation bit set and there are fewer than four of them), and the
/// value with the number of bytes it used otherwise.
///
/// Errors with [`DecodeError::MalformedVarInt`] when the fourth byte still has its
/// continuation bit set, and also when the value is not in its shortest encoding (a last
/// byte of 0 after other bytes), which the sender must never produce [MQTT-1.5.5-1].
pub fn read_var_int(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A zero last byte after a continuation byte adds nothing: not minimal.
            if i > 0 && byte == 0 {
                return Err(DecodeError::MalformedVarInt);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        // Four bytes with the continuation bit set on the fourth [MQTT-1.5.5-1].
        Err(DecodeError::MalformedVarInt)
    } else {
        Ok(None)
    }
}

/// The number of bytes [`write_var_int`] uses for `value`: 1 to 4 for values up to
/// [`VAR_INT_MAX`], 5 for larger values (which cannot be encoded).
pub fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=VAR_INT_MAX => 4,
        _ => 5,
    }
}

/// Appends `value` as a variable byte integer to `out`.
///
/// Errors with [`EncodeError::InvalidValue`] (and leaves `out` unchanged) when `value` is
/// above [`VAR_INT_MAX`].
pub fn write_var_int(value: u32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if value > VAR_INT_MAX {
        return Err(EncodeError::InvalidValue(
            "variable byte integer above 268435455",
        ));
    }
    put_var_int(out, value);
    Ok(())
}

/// Appends a variable byte integer already known to be at most [`VAR_INT_MAX`].
pub(crate) fn put_var_int(out: &mut Vec<u8>, mut value: u32) {
    debug_assert!(value <= VAR_INT_MAX);
    loop {
        // Truncation is the point: the low seven bits of the value.
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return;
        }
    }
}

/// Appends a two-byte big-endian integer.
pub(crate) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Appends a four-byte big-endian integer.
pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Appends a length-prefixed field already checked by [`bin_len`] or [`str_len`].
pub(crate) fn put_bin(out: &mut Vec<u8>, value: &[u8]) {
    debug_assert!(value.len() <= FIELD_MAX);
    // The length was checked to fit in two bytes by `bin_len` / `str_len`.
    put_u16(out, value.len() as u16);
    out.extend_from_slice(value);
}

/// Appends a UTF-8 string already checked by [`str_len`].
pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_bin(out, value.as_bytes());
}

/// The encoded size of binary data (length prefix included); errors when it is longer
/// than 65,535 bytes.
pub(crate) fn bin_len(value: &[u8]) -> Result<usize, EncodeError> {
    if value.len() > FIELD_MAX {
        return Err(EncodeError::FieldTooLong);
    }
    Ok(2 + value.len())
}

/// The encoded size of a UTF-8 string (length prefix included); errors when it is longer
/// than 65,535 bytes or contains U+0000, which a receiver must treat as malformed
/// [MQTT-1.5.4-2].
pub(crate) fn str_len(value: &str) -> Result<usize, EncodeError> {
    let len = bin_len(value.as_bytes())?;
    if value.as_bytes().contains(&0) {
        return Err(EncodeError::InvalidValue("string contains U+0000"));
    }
    Ok(len)
}

/// Checks that `bytes` are a well-formed MQTT UTF-8 string: valid UTF-8 (which excludes
/// the surrogates U+D800..U+DFFF) [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2].
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
    if bytes.contains(&0) {
        return Err(DecodeError::NullCharacter);
    }
    Ok(s)
}

/// A bounds-checked cursor over the body of one packet (or one property list).
///
/// Every read that would go past the end is [`DecodeError::Truncated`]: the body is
/// complete by the time a `Reader` exists, so running out of bytes means a length field
/// lied, not that more bytes are coming.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` bytes, checked against what is left before slicing.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Everything left (the PUBLISH payload, a list of reason codes).
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// A one-byte integer.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, tail) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = tail;
        Ok(first)
    }

    /// A two-byte big-endian integer.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A four-byte big-endian integer.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A variable byte integer inside the body (property length, property id,
    /// subscription identifier): ending early is `Truncated`, not "need more bytes".
    pub(crate) fn var_int(&mut self) -> Result<u32, DecodeError> {
        match read_var_int(self.buf)? {
            Some((value, used)) => {
                self.buf = &self.buf[used..];
                Ok(value)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// A two-byte packet identifier that must not be 0 [MQTT-2.2.1-3] [MQTT-2.3.1-1].
    pub(crate) fn packet_id(&mut self) -> Result<u16, DecodeError> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// Binary data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 string: a two-byte length, then that many bytes of checked UTF-8.
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        check_utf8(bytes)
    }

    /// A UTF-8 string, owned.
    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(str::to_owned)
    }

    /// Errors with [`DecodeError::TrailingBytes`] unless every byte has been read.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 1.1 of MQTT 5.0 (table 2.4 of 3.1.1): the boundaries of each encoded size.
    const VAR_INT_TABLE: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];

    #[test]
    fn var_int_boundaries_of_the_spec_table_encode_and_decode_both_ways() {
        for &(value, bytes) in VAR_INT_TABLE {
            let mut out = Vec::new();
            write_var_int(value, &mut out).unwrap();
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(var_int_len(value), bytes.len(), "length of {value}");
            assert_eq!(
                read_var_int(bytes),
                Ok(Some((value, bytes.len()))),
                "decoding {value}"
            );
        }
    }

    #[test]
    fn var_int_decode_uses_only_its_own_bytes() {
        assert_eq!(read_var_int(&[0x80, 0x01, 0xAA, 0xBB]), Ok(Some((128, 2))));
    }

    #[test]
    fn var_int_prefix_asks_for_more_bytes() {
        assert_eq!(read_var_int(&[]), Ok(None));
        assert_eq!(read_var_int(&[0x80]), Ok(None));
        assert_eq!(read_var_int(&[0xFF, 0xFF]), Ok(None));
        assert_eq!(read_var_int(&[0xFF, 0xFF, 0xFF]), Ok(None));
    }

    #[test]
    fn var_int_with_continuation_on_the_fourth_byte_is_malformed_before_a_fifth_arrives() {
        assert_eq!(
            read_var_int(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::MalformedVarInt)
        );
        assert_eq!(
            read_var_int(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(DecodeError::MalformedVarInt)
        );
    }

    #[test]
    fn var_int_not_in_its_shortest_form_is_malformed() {
        assert_eq!(
            read_var_int(&[0x80, 0x00]),
            Err(DecodeError::MalformedVarInt)
        );
        assert_eq!(
            read_var_int(&[0xFF, 0x80, 0x00]),
            Err(DecodeError::MalformedVarInt)
        );
    }

    #[test]
    fn var_int_above_the_maximum_is_refused_on_encode_and_out_is_unchanged() {
        let mut out = vec![1, 2];
        assert!(matches!(
            write_var_int(VAR_INT_MAX + 1, &mut out),
            Err(EncodeError::InvalidValue(_))
        ));
        assert_eq!(out, [1, 2]);
        assert_eq!(var_int_len(VAR_INT_MAX + 1), 5);
    }

    /// The example of MQTT 5.0 section 1.5.4 (3.1.1 section 1.5.3): "A𪛔" is U+0041 then
    /// U+2A6D4, five bytes.
    #[test]
    fn utf8_string_example_of_the_spec_encodes_and_decodes() {
        let bytes = [0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94];
        let mut out = Vec::new();
        assert_eq!(str_len("A\u{2A6D4}"), Ok(7));
        put_str(&mut out, "A\u{2A6D4}");
        assert_eq!(out, bytes);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.str(), Ok("A\u{2A6D4}"));
        assert!(r.is_empty());
    }

    #[test]
    fn string_with_invalid_utf8_or_a_null_character_is_refused() {
        // 0xED 0xA0 0x80 is the surrogate U+D800, which UTF-8 must not encode.
        assert_eq!(
            Reader::new(&[0x00, 0x03, 0xED, 0xA0, 0x80]).str(),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            Reader::new(&[0x00, 0x02, 0x41, 0x00]).str(),
            Err(DecodeError::NullCharacter)
        );
        assert!(matches!(str_len("a\0b"), Err(EncodeError::InvalidValue(_))));
    }

    #[test]
    fn a_length_prefix_longer_than_the_bytes_left_is_truncated_without_allocating() {
        let mut r = Reader::new(&[0xFF, 0xFF, 0x41]);
        assert_eq!(r.binary(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[0x00]).u16(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[0, 0, 0]).u32(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[0x80]).var_int(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[]).u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn fields_longer_than_65535_bytes_are_refused_on_encode() {
        assert_eq!(bin_len(&vec![0; 65_535]), Ok(65_537));
        assert_eq!(bin_len(&vec![0; 65_536]), Err(EncodeError::FieldTooLong));
        assert_eq!(str_len(&"a".repeat(65_536)), Err(EncodeError::FieldTooLong));
    }

    #[test]
    fn big_endian_integers_put_the_most_significant_byte_first() {
        let mut out = Vec::new();
        put_u16(&mut out, 0x0102);
        put_u32(&mut out, 0x0304_0506);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        let mut r = Reader::new(&out);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u32(), Ok(0x0304_0506));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn trailing_bytes_are_reported_by_finish() {
        let r = Reader::new(&[0]);
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn packet_id_zero_is_refused() {
        assert_eq!(
            Reader::new(&[0, 0]).packet_id(),
            Err(DecodeError::ZeroPacketId)
        );
        assert_eq!(Reader::new(&[0, 7]).packet_id(), Ok(7));
    }
}
