// The decode check shared by the `decode` fuzz target and `tests/fuzz_corpus.rs`: both
// `include!` this file, so a corpus entry is judged the same way by the fuzzer and by
// `cargo test`.

/// Decodes `data` as `version` under `max_size` and panics if the codec misbehaves.
///
/// Any result is acceptable except a panic, a packet that claims more bytes than `data`
/// holds or than `max_size` allows, or a packet that does not survive a round trip:
/// whatever decodes must decode again the same from its own bytes, must encode, and its
/// encoding must decode back to the same packet using exactly the encoded length.
fn check_decode(data: &[u8], version: mqtt_rtc::mqtt::codec::ProtocolVersion, max_size: u32) {
    use mqtt_rtc::mqtt::codec::{decode, encode, Packet};

    let Ok(Some((packet, used))) = decode(data, version, max_size) else {
        return;
    };
    assert!(
        used >= 2 && used <= data.len(),
        "used {used} of {} bytes",
        data.len()
    );
    assert!(
        used as u64 <= u64::from(max_size),
        "used {used} > max_size {max_size}"
    );
    assert_eq!(
        decode(&data[..used], version, max_size),
        Ok(Some((packet.clone(), used))),
        "the packet's own bytes decode differently"
    );
    // CONNECT carries its own protocol level; every other packet uses the negotiated one.
    let version = match &packet {
        Packet::Connect(connect) => connect.protocol,
        _ => version,
    };
    let mut encoded = Vec::new();
    if let Err(e) = encode(&packet, version, &mut encoded) {
        panic!("decoded {packet:?} but cannot encode it for {version:?}: {e}");
    }
    assert_eq!(
        decode(&encoded, version, u32::MAX),
        Ok(Some((packet, encoded.len()))),
        "re-encoding {encoded:02x?} does not decode to the same packet"
    );
}

/// Runs [`check_decode`] on `data` for both protocol versions under several maximum sizes:
/// none, a small broker limit, and the input's own length.
fn check_input(data: &[u8]) {
    use mqtt_rtc::mqtt::codec::ProtocolVersion;

    let own_length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for max_size in [u32::MAX, 64, own_length] {
            check_decode(data, version, max_size);
        }
    }
}
