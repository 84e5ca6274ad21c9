//! Browser tests of the library's WebRTC types, called from Rust: two `RtcPeer`s in one
//! page with their signals wired to each other in Rust (connect, roles, data channels with
//! text, binary and chunked messages, a fake-camera track, stats, ICE restart, glare,
//! close, malformed signals), and `MqttSignaling` calls between two `MqttClient`s through
//! the test broker (presence, calls, Will, errors). Chromium runs with the loopback and
//! fake-media flags of `webdriver.json`. Conditions are waited for with deadlines.
#![cfg(all(target_arch = "wasm32", feature = "rtc"))]

mod web_util;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Uint8Array};
use mqtt_rtc::client::MqttClient;
use mqtt_rtc::rtc::{MqttSignaling, RtcChannel, RtcPeer};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};
use web_util::*;

wasm_bindgen_test_configure!(run_in_browser);

// ----- two peers in one page -----

/// Two peers whose signals are delivered to each other in Rust, recording every signal
/// and every rejection of `signal()`.
struct Pair {
    a: Rc<RtcPeer>,
    b: Rc<RtcPeer>,
    a_signals: Recorder,
    b_signals: Recorder,
    /// Rejections of `signal()` on either side (none expected in a healthy exchange).
    signal_errors: Rc<RefCell<Vec<JsValue>>>,
    a_connects: Recorder,
    b_connects: Recorder,
    a_channels: Recorder,
    b_channels: Recorder,
}

fn peer(options: JsValue) -> Rc<RtcPeer> {
    Rc::new(RtcPeer::new(options).unwrap_or_else(|e| panic!("new RtcPeer: {e:?}")))
}

fn on(p: &RtcPeer, event: &str) -> Recorder {
    let r = Recorder::new();
    p.on(event.into(), r.f()).unwrap();
    r
}

/// Forwards every signal of `from` to `to.signal()`.
fn forward(from: &RtcPeer, to: &Rc<RtcPeer>, errors: &Rc<RefCell<Vec<JsValue>>>) {
    let to = to.clone();
    let errors = errors.clone();
    let f = Closure::<dyn FnMut(JsValue)>::new(move |signal: JsValue| {
        let p = to.signal(signal);
        let errors = errors.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = JsFuture::from(p).await {
                errors.borrow_mut().push(e);
            }
        });
    })
    .into_js_value();
    from.on("signal".into(), f.unchecked_into()).unwrap();
}

impl Pair {
    fn new(a_options: JsValue, b_options: JsValue) -> Pair {
        let (a, b) = (peer(a_options), peer(b_options));
        Pair::wire(a, b)
    }

    fn wire(a: Rc<RtcPeer>, b: Rc<RtcPeer>) -> Pair {
        let signal_errors = Rc::new(RefCell::new(Vec::new()));
        let pair = Pair {
            a_signals: on(&a, "signal"),
            b_signals: on(&b, "signal"),
            a_connects: on(&a, "connect"),
            b_connects: on(&b, "connect"),
            a_channels: on(&a, "channel"),
            b_channels: on(&b, "channel"),
            signal_errors: signal_errors.clone(),
            a,
            b,
        };
        forward(&pair.a, &pair.b, &signal_errors);
        forward(&pair.b, &pair.a, &signal_errors);
        pair
    }

    async fn connected(&self) {
        self.a_connects
            .wait_len(1, RTC_TIMEOUT_MS, "a's connect event")
            .await;
        self.b_connects
            .wait_len(1, RTC_TIMEOUT_MS, "b's connect event")
            .await;
        assert_eq!(self.a.connection_state().unwrap(), "connected");
        assert_eq!(self.b.connection_state().unwrap(), "connected");
        self.assert_no_signal_errors();
    }

    fn assert_no_signal_errors(&self) {
        let errors = self.signal_errors.borrow();
        assert!(errors.is_empty(), "signal() rejected: {errors:?}");
    }

    /// The `i`th channel b received from a.
    async fn b_channel(&self, i: usize) -> RtcChannel {
        self.b_channels
            .wait_len(i + 1, RTC_TIMEOUT_MS, "b's channel event")
            .await;
        RtcChannel::try_from_js_value(self.b_channels.arg(i)).expect("an RtcChannel")
    }

    /// The `i`th channel a received from b.
    async fn a_channel(&self, i: usize) -> RtcChannel {
        self.a_channels
            .wait_len(i + 1, RTC_TIMEOUT_MS, "a's channel event")
            .await;
        RtcChannel::try_from_js_value(self.a_channels.arg(i)).expect("an RtcChannel")
    }

    fn close(&self) {
        self.a.close().unwrap();
        self.b.close().unwrap();
    }
}

fn channel(p: &RtcPeer, label: &str, options: JsValue) -> RtcChannel {
    p.create_channel(label.into(), options)
        .unwrap_or_else(|e| panic!("createChannel {label}: {e:?}"))
}

async fn open(ch: &RtcChannel) {
    wait_for(
        &format!("channel {} to open", ch.label().unwrap()),
        RTC_TIMEOUT_MS,
        || ch.ready_state().unwrap() == "open",
    )
    .await;
}

fn listen(ch: &RtcChannel, event: &str) -> Recorder {
    let r = Recorder::new();
    ch.on(event.into(), r.f()).unwrap();
    r
}

/// Peers `a` and `b` connected, with channel "chat" open on both sides.
async fn chat_pair() -> (Pair, RtcChannel, RtcChannel) {
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let local = channel(&pair.a, "chat", JsValue::UNDEFINED);
    pair.connected().await;
    let remote = pair.b_channel(0).await;
    open(&local).await;
    open(&remote).await;
    (pair, local, remote)
}

async fn camera() -> MediaStream {
    let devices = web_sys::window()
        .expect("a window")
        .navigator()
        .media_devices()
        .expect("navigator.mediaDevices");
    let constraints = MediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    let p = devices
        .get_user_media_with_constraints(&constraints)
        .expect("getUserMedia");
    ok(p, "getUserMedia (fake camera)").await.unchecked_into()
}

/// `v` as a `JsValue` of the same object. (Not `.clone().into()`: `MediaStream` and
/// `MediaStreamTrack` have a JS `clone()` method that shadows `Clone` and makes a new one.)
fn js<T: AsRef<JsValue>>(v: &T) -> JsValue {
    v.as_ref().clone()
}

fn video_track(stream: &MediaStream) -> MediaStreamTrack {
    stream.get_video_tracks().get(0).unchecked_into()
}

async fn stats(p: &RtcPeer) -> JsValue {
    ok(p.stats(), "stats").await
}

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key)
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v:?}"))
}

#[wasm_bindgen_test]
async fn two_peers_connect_and_agree_on_who_is_polite() {
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let (a_states, b_states) = (on(&pair.a, "state"), on(&pair.b, "state"));
    assert_eq!(pair.a.connection_state().unwrap(), "new");
    assert_eq!(pair.a.remote_session().unwrap(), None);
    assert_ne!(pair.a.session().unwrap(), pair.b.session().unwrap());
    channel(&pair.a, "x", JsValue::UNDEFINED);
    pair.connected().await;
    assert_eq!(
        pair.a.remote_session().unwrap(),
        Some(pair.b.session().unwrap())
    );
    assert_eq!(
        pair.b.remote_session().unwrap(),
        Some(pair.a.session().unwrap())
    );
    assert_ne!(
        pair.a.polite().unwrap(),
        pair.b.polite().unwrap(),
        "exactly one side is polite"
    );
    assert_eq!(
        pair.a.polite().unwrap(),
        pair.a.session().unwrap() < pair.b.session().unwrap(),
        "the smaller session id is polite"
    );
    assert!(a_states.strings().contains(&"connected".to_string()));
    assert!(b_states.strings().contains(&"connected".to_string()));
    for s in pair.a_signals.all() {
        assert_eq!(
            get(&s, "session").as_string(),
            Some(pair.a.session().unwrap())
        );
    }
    let kinds: Vec<String> = pair
        .a_signals
        .all()
        .iter()
        .chain(pair.b_signals.all().iter())
        .filter_map(|s| get(s, "type").as_string())
        .collect();
    assert!(
        kinds.contains(&"offer".into()) && kinds.contains(&"answer".into()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"candidate".into()), "{kinds:?}");
    pair.close();
}

#[wasm_bindgen_test]
async fn a_data_channel_carries_text_both_ways() {
    let (pair, local, remote) = chat_pair().await;
    assert_eq!(remote.label().unwrap(), "chat");
    assert!(local.reliable().unwrap() && remote.reliable().unwrap());
    let (at_a, at_b) = (listen(&local, "message"), listen(&remote, "message"));
    ok(local.send("hello from a".into()), "send a→b").await;
    ok(remote.send("héllo from b ✓".into()), "send b→a").await;
    at_b.wait_len(1, TIMEOUT_MS, "b's message").await;
    at_a.wait_len(1, TIMEOUT_MS, "a's message").await;
    assert_eq!(at_b.arg(0).as_string().as_deref(), Some("hello from a"));
    assert_eq!(at_a.arg(0).as_string().as_deref(), Some("héllo from b ✓"));
    pair.close();
}

#[wasm_bindgen_test]
async fn a_data_channel_carries_uint8array_and_arraybuffer_as_bytes() {
    let (pair, local, remote) = chat_pair().await;
    let got = listen(&remote, "message");
    let bytes: Vec<u8> = (0..=255).collect();
    ok(local.send(uint8(&bytes)), "send Uint8Array").await;
    let buffer: ArrayBuffer = Uint8Array::from(&[7u8, 7, 0, 9][..]).buffer();
    ok(local.send(buffer.into()), "send ArrayBuffer").await;
    got.wait_len(2, TIMEOUT_MS, "two binary messages").await;
    for (i, want) in [bytes, vec![7, 7, 0, 9]].iter().enumerate() {
        let m = got.arg(i);
        assert!(
            m.is_instance_of::<Uint8Array>(),
            "binary arrives as Uint8Array: {m:?}"
        );
        assert_eq!(&bytes_of(&m), want);
    }
    rejects(local.send(5.into()), "INVALID_ARGUMENT", "send a number").await;
    pair.close();
}

#[wasm_bindgen_test]
async fn a_message_larger_than_the_sctp_limit_is_chunked_and_reassembled() {
    let (pair, local, remote) = chat_pair().await;
    let got = listen(&remote, "message");
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let text = "x".repeat(300_000);
    ok(local.send(uint8(&big)), "send 1 MB").await;
    ok(local.send(text.as_str().into()), "send 300 kB of text").await;
    got.wait_len(2, RTC_TIMEOUT_MS, "the large messages").await;
    assert_eq!(got.len(), 2, "one message event each");
    assert!(bytes_of(&got.arg(0)) == big, "the 1 MB message is intact");
    assert_eq!(got.arg(1).as_string().map(|s| s.len()), Some(300_000));
    pair.close();
}

#[wasm_bindgen_test]
async fn messages_sent_back_to_back_arrive_in_order() {
    let (pair, local, remote) = chat_pair().await;
    let got = listen(&remote, "message");
    let sends: Vec<Watched> = (0..200)
        .map(|i| Watched::new(local.send(format!("m{i}").into())))
        .collect();
    got.wait_len(200, RTC_TIMEOUT_MS, "200 messages").await;
    let want: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    assert_eq!(got.strings(), want);
    wait_for("every send to resolve", TIMEOUT_MS, || {
        sends.iter().all(Watched::is_settled)
    })
    .await;
    assert!(sends.iter().all(|s| matches!(s.result(), Some(Ok(_)))));
    pair.close();
}

#[wasm_bindgen_test]
async fn an_unreliable_channel_refuses_messages_it_cannot_send_whole() {
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let opts = obj(&[("ordered", false.into()), ("maxRetransmits", 0.into())]);
    let local = channel(&pair.a, "telemetry", opts);
    assert!(!local.reliable().unwrap());
    pair.connected().await;
    let remote = pair.b_channel(0).await;
    assert_eq!(remote.label().unwrap(), "telemetry");
    assert!(
        !remote.reliable().unwrap(),
        "the remote side sees an unreliable channel too"
    );
    open(&local).await;
    let got = listen(&remote, "message");
    ok(local.send("small".into()), "a small message").await;
    rejects(
        local.send(uint8(&vec![1; 2 * 1024 * 1024])),
        "MESSAGE_TOO_LARGE",
        "2 MB on an unreliable channel",
    )
    .await;
    got.wait_len(1, TIMEOUT_MS, "the small message").await;
    assert_eq!(got.arg(0).as_string().as_deref(), Some("small"));
    let both = obj(&[
        ("maxRetransmits", 1.into()),
        ("maxPacketLifeTime", 10.into()),
    ]);
    let e = pair
        .a
        .create_channel("bad".into(), both)
        .err()
        .expect("maxRetransmits with maxPacketLifeTime is refused");
    assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{e:?}");
    pair.close();
}

#[wasm_bindgen_test]
async fn channels_given_at_creation_open_on_both_sides() {
    let channels = Array::of2(
        &"control".into(),
        &obj(&[("label", "video-meta".into()), ("ordered", false.into())]),
    );
    let pair = Pair::new(obj(&[("channels", channels.into())]), JsValue::UNDEFINED);
    let local: Vec<String> = pair
        .a
        .channels()
        .unwrap()
        .iter()
        .map(|c| {
            RtcChannel::try_from_js_value(c)
                .expect("RtcChannel")
                .label()
                .unwrap()
        })
        .collect();
    assert_eq!(local, ["control", "video-meta"]);
    pair.connected().await;
    let (first, second) = (pair.b_channel(0).await, pair.b_channel(1).await);
    let mut labels = vec![first.label().unwrap(), second.label().unwrap()];
    labels.sort();
    assert_eq!(labels, ["control", "video-meta"]);
    wait_for("b to list both channels", TIMEOUT_MS, || {
        pair.b.channels().unwrap().length() == 2
    })
    .await;
    pair.close();
}

#[wasm_bindgen_test]
async fn closing_a_channel_closes_it_on_both_sides() {
    let (pair, local, remote) = chat_pair().await;
    let (local_closed, remote_closed) = (listen(&local, "close"), listen(&remote, "close"));
    assert_eq!(pair.a.channels().unwrap().length(), 1);
    local.close().unwrap();
    assert_eq!(local.ready_state().unwrap(), "closed");
    rejects(
        local.send("late".into()),
        "CLOSED",
        "send on a closed channel",
    )
    .await;
    remote_closed
        .wait_len(1, RTC_TIMEOUT_MS, "the remote close event")
        .await;
    local_closed
        .wait_len(1, TIMEOUT_MS, "the local close event")
        .await;
    assert_eq!(remote.ready_state().unwrap(), "closed");
    assert_eq!(
        pair.a.channels().unwrap().length(),
        0,
        "a closed channel is not listed"
    );
    assert_eq!(
        pair.a.connection_state().unwrap(),
        "connected",
        "the connection stays up"
    );
    pair.close();
}

#[wasm_bindgen_test]
async fn a_fake_camera_track_reaches_the_other_peer_and_shows_in_stats() {
    let stream = camera().await;
    let track = video_track(&stream);
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let tracks = on(&pair.b, "track");
    pair.a.add_track(js(&track), js(&stream)).expect("addTrack");
    pair.connected().await;
    tracks.wait_len(1, RTC_TIMEOUT_MS, "the track event").await;
    let (remote_track, remote_stream) = tracks.args(0);
    let remote_track: MediaStreamTrack = remote_track.dyn_into().expect("a MediaStreamTrack");
    assert_eq!(remote_track.kind(), "video");
    let remote_stream: MediaStream = remote_stream.dyn_into().expect("a MediaStream");
    assert_eq!(
        remote_stream.id(),
        stream.id(),
        "the sender's stream id travels along"
    );
    // Frames flow: the receiver counts packets and bytes.
    let deadline = now() + f64::from(RTC_TIMEOUT_MS);
    loop {
        let s = stats(&pair.b).await;
        if num(&s, "packetsReceived") > 0.0 && num(&s, "bytesReceived") > 1000.0 {
            assert!(num(&s, "packetsLost") >= 0.0);
            break;
        }
        assert!(now() < deadline, "no media received: {s:?}");
        sleep(100).await;
    }
    // The sender counts them too (its statistics refresh on their own schedule).
    let deadline = now() + f64::from(TIMEOUT_MS);
    loop {
        let s = stats(&pair.a).await;
        if num(&s, "bytesSent") > 1000.0 {
            break;
        }
        assert!(now() < deadline, "nothing sent in the stats: {s:?}");
        sleep(50).await;
    }
    track.stop();
    pair.close();
}

#[wasm_bindgen_test]
async fn a_stream_given_at_creation_is_sent_from_the_start() {
    let stream = camera().await;
    let pair = Pair::new(obj(&[("stream", js(&stream))]), JsValue::UNDEFINED);
    let tracks = on(&pair.b, "track");
    pair.connected().await;
    tracks.wait_len(1, RTC_TIMEOUT_MS, "the track event").await;
    let t: MediaStreamTrack = tracks.arg(0).dyn_into().expect("a track");
    assert_eq!(t.kind(), "video");
    video_track(&stream).stop();
    pair.close();
}

#[wasm_bindgen_test]
async fn replace_and_remove_track_work_on_sent_tracks_and_refuse_others() {
    let stream = camera().await;
    let track = video_track(&stream);
    let other = camera().await;
    let other_track = video_track(&other);
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    pair.a.add_track(js(&track), js(&stream)).expect("addTrack");
    pair.connected().await;

    let e = pair.a.remove_track(js(&other_track)).expect_err("not sent");
    assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{e:?}");
    rejects(
        pair.a.replace_track(js(&other_track), JsValue::NULL),
        "INVALID_ARGUMENT",
        "replace a track that is not sent",
    )
    .await;
    rejects(
        pair.a.replace_track(js(&track), 5.into()),
        "INVALID_ARGUMENT",
        "replace with a number",
    )
    .await;
    let e = pair
        .a
        .add_track(5.into(), js(&stream))
        .expect_err("not a track");
    assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{e:?}");

    // Replacing keeps the sender: the new track can then be removed.
    ok(
        pair.a.replace_track(js(&track), js(&other_track)),
        "replaceTrack",
    )
    .await;
    let e = pair.a.remove_track(js(&track)).expect_err("replaced");
    assert_eq!(
        code_of(&e),
        "INVALID_ARGUMENT",
        "the old track is no longer sent"
    );
    let before = pair.a_signals.len();
    pair.a.remove_track(js(&other_track)).expect("removeTrack");
    // Removing renegotiates: a new offer goes out and the pair stays connected.
    let signals = pair.a_signals.clone();
    wait_for("a renegotiation offer", RTC_TIMEOUT_MS, || {
        signals.all()[before..]
            .iter()
            .any(|s| get(s, "type").as_string().as_deref() == Some("offer"))
    })
    .await;
    pair.assert_no_signal_errors();
    assert_eq!(pair.a.connection_state().unwrap(), "connected");
    track.stop();
    other_track.stop();
    pair.close();
}

#[wasm_bindgen_test]
async fn stats_report_the_selected_host_candidate_pair_and_traffic() {
    let (pair, local, remote) = chat_pair().await;
    let got = listen(&remote, "message");
    ok(local.send(uint8(&[1; 10_000])), "send").await;
    got.wait_len(1, TIMEOUT_MS, "the message").await;
    // The browser refreshes its statistics now and then: wait until they count the
    // message (sent) and the acknowledgements of it (received).
    let deadline = now() + f64::from(TIMEOUT_MS);
    let s = loop {
        let s = stats(&pair.a).await;
        if num(&s, "bytesSent") >= 10_000.0 && num(&s, "bytesReceived") > 0.0 {
            break s;
        }
        assert!(
            now() < deadline,
            "the traffic never showed in the stats: {s:?}"
        );
        sleep(50).await;
    };
    assert_eq!(
        get(&s, "localCandidateType").as_string().as_deref(),
        Some("host")
    );
    let selected = get(&s, "selectedPair");
    let local_c = get(&selected, "local");
    assert_eq!(
        get(&local_c, "type").as_string().as_deref(),
        Some("host"),
        "{s:?}"
    );
    assert!(num(&local_c, "port") > 0.0);
    assert!(
        get(&get(&selected, "remote"), "address")
            .as_string()
            .is_some(),
        "{s:?}"
    );
    pair.close();
}

#[wasm_bindgen_test]
async fn restart_ice_renegotiates_and_the_channel_keeps_working() {
    let (pair, local, remote) = chat_pair().await;
    let got = listen(&remote, "message");
    let before = pair.a_signals.len() + pair.b_signals.len();
    pair.a.restart_ice().unwrap();
    let counts = (pair.a_signals.clone(), pair.b_signals.clone());
    wait_for("signals of the ICE restart", RTC_TIMEOUT_MS, || {
        counts.0.len() + counts.1.len() >= before + 2
    })
    .await;
    ok(local.send("after restart".into()), "send").await;
    got.wait_len(1, RTC_TIMEOUT_MS, "a message after the restart")
        .await;
    assert_eq!(got.arg(0).as_string().as_deref(), Some("after restart"));
    pair.assert_no_signal_errors();
    wait_for("connected after the restart", RTC_TIMEOUT_MS, || {
        pair.a.connection_state().unwrap() == "connected"
    })
    .await;
    pair.close();
}

#[wasm_bindgen_test]
async fn both_sides_opening_channels_at_once_settle_the_collision() {
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    // Both make an offer at the same time: perfect negotiation must settle it.
    let from_a = channel(&pair.a, "from-a", JsValue::UNDEFINED);
    let from_b = channel(&pair.b, "from-b", JsValue::UNDEFINED);
    pair.connected().await;
    let at_b = pair.b_channel(0).await;
    let at_a = pair.a_channel(0).await;
    assert_eq!(
        (at_b.label().unwrap(), at_a.label().unwrap()),
        ("from-a".into(), "from-b".into())
    );
    for ch in [&from_a, &from_b, &at_a, &at_b] {
        open(ch).await;
    }
    let (got_b, got_a) = (listen(&at_b, "message"), listen(&at_a, "message"));
    ok(from_a.send("a→b".into()), "a sends").await;
    ok(from_b.send("b→a".into()), "b sends").await;
    got_b.wait_len(1, TIMEOUT_MS, "b's message").await;
    got_a.wait_len(1, TIMEOUT_MS, "a's message").await;
    assert_eq!(got_b.arg(0).as_string().as_deref(), Some("a→b"));
    assert_eq!(got_a.arg(0).as_string().as_deref(), Some("b→a"));
    pair.close();
}

#[wasm_bindgen_test]
async fn a_closed_peer_refuses_every_call_with_closed() {
    let stream = camera().await;
    let (pair, local, remote) = chat_pair().await;
    let closes = on(&pair.a, "close");
    let remote_closed = listen(&remote, "close");
    pair.a.close().unwrap();
    pair.a.close().unwrap();
    assert_eq!(closes.len(), 1, "close is emitted once");
    assert_eq!(pair.a.connection_state().unwrap(), "closed");
    assert_eq!(
        local.ready_state().unwrap(),
        "closed",
        "its channels close with it"
    );
    rejects(pair.a.stats(), "CLOSED", "stats").await;
    let offer = pair.b_signals.all().into_iter().next().unwrap_or_else(|| {
        obj(&[
            ("type", "answer".into()),
            ("sdp", "v=0".into()),
            ("session", "s".into()),
        ])
    });
    rejects(pair.a.signal(offer), "CLOSED", "signal").await;
    rejects(
        pair.a.replace_track(JsValue::NULL, JsValue::NULL),
        "CLOSED",
        "replaceTrack",
    )
    .await;
    let track = video_track(&stream);
    let e = pair
        .a
        .add_track(js(&track), js(&stream))
        .expect_err("addTrack on a closed peer");
    assert_eq!(code_of(&e), "CLOSED", "{e:?}");
    track.stop();
    let e = pair
        .a
        .create_channel("late".into(), JsValue::UNDEFINED)
        .err()
        .expect("createChannel on a closed peer");
    assert_eq!(code_of(&e), "CLOSED", "{e:?}");
    remote_closed
        .wait_len(1, RTC_TIMEOUT_MS, "the remote channel to close")
        .await;
    pair.b.close().unwrap();
}

#[wasm_bindgen_test]
async fn malformed_signals_are_rejected_with_invalid_signal_and_reported() {
    let p = peer(JsValue::UNDEFINED);
    let errors = on(&p, "error");
    let cases = [
        ("a number", 5.into()),
        ("a string", "offer".into()),
        ("no fields", obj(&[])),
        (
            "no session",
            obj(&[("type", "offer".into()), ("sdp", "v=0".into())]),
        ),
        (
            "offer without sdp",
            obj(&[("type", "offer".into()), ("session", "s1".into())]),
        ),
        (
            "unknown type",
            obj(&[
                ("type", "hello".into()),
                ("sdp", "v=0".into()),
                ("session", "s1".into()),
            ]),
        ),
        (
            "candidate not an object",
            obj(&[
                ("type", "candidate".into()),
                ("candidate", 5.into()),
                ("session", "s1".into()),
            ]),
        ),
        (
            "candidate without sdpMid or sdpMLineIndex",
            obj(&[
                ("type", "candidate".into()),
                (
                    "candidate",
                    obj(&[(
                        "candidate",
                        "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                    )]),
                ),
                ("session", "s1".into()),
            ]),
        ),
        (
            "empty sdp",
            obj(&[
                ("type", "offer".into()),
                ("sdp", "".into()),
                ("session", "s1".into()),
            ]),
        ),
        (
            "empty session",
            obj(&[
                ("type", "offer".into()),
                ("sdp", "v=0".into()),
                ("session", "".into()),
            ]),
        ),
        (
            "session a number",
            obj(&[
                ("type", "answer".into()),
                ("sdp", "v=0".into()),
                ("session", 5.into()),
            ]),
        ),
    ];
    for (what, signal) in cases.iter().cloned() {
        rejects(p.signal(signal), "INVALID_SIGNAL", what).await;
    }
    errors
        .wait_len(cases.len(), TIMEOUT_MS, "error events")
        .await;
    assert!(errors.all().iter().all(|e| code_of(e) == "INVALID_SIGNAL"));
    assert_eq!(
        p.remote_session().unwrap(),
        None,
        "no malformed signal picked a remote session"
    );
    assert_eq!(p.connection_state().unwrap(), "new");
    p.close().unwrap();
}

#[wasm_bindgen_test]
async fn an_offer_that_cannot_be_applied_is_negotiation_failed() {
    let p = peer(JsValue::UNDEFINED);
    let errors = on(&p, "error");
    let bad = obj(&[
        ("type", "offer".into()),
        ("sdp", "this is not sdp".into()),
        ("session", "remote-1".into()),
    ]);
    rejects(p.signal(bad), "NEGOTIATION_FAILED", "garbage sdp").await;
    errors.wait_len(1, TIMEOUT_MS, "the error event").await;
    assert_eq!(code_of(&errors.arg(0)), "NEGOTIATION_FAILED");
    p.close().unwrap();
}

#[wasm_bindgen_test]
async fn signals_of_another_session_and_own_echoes_are_ignored() {
    let (pair, local, remote) = chat_pair().await;
    // A third peer offers to a: a sticks to b's session.
    let c = peer(JsValue::UNDEFINED);
    let c_signals = on(&c, "signal");
    channel(&c, "intruder", JsValue::UNDEFINED);
    let offer = c_signals
        .wait_match("c's offer", RTC_TIMEOUT_MS, |s| {
            get(s, "type").as_string().as_deref() == Some("offer")
        })
        .await;
    let a_errors = on(&pair.a, "error");
    ok(pair.a.signal(offer), "a foreign offer resolves (ignored)").await;
    // Its own signal echoed back (a shared topic) is not for it either.
    let own = pair.a_signals.arg(0);
    ok(pair.a.signal(own), "an echoed signal resolves (ignored)").await;
    assert_eq!(
        pair.a.remote_session().unwrap(),
        Some(pair.b.session().unwrap())
    );
    let got = listen(&remote, "message");
    ok(local.send("still b".into()), "send").await;
    got.wait_len(1, TIMEOUT_MS, "the message").await;
    assert!(a_errors.is_empty(), "no error: {:?}", a_errors.all());
    assert_eq!(pair.a.connection_state().unwrap(), "connected");
    assert_eq!(pair.a_channels.len(), 0, "no channel from the intruder");
    c.close().unwrap();
    pair.close();
}

#[wasm_bindgen_test]
async fn invalid_peer_and_channel_options_are_invalid_argument() {
    let cases = [
        ("options a number", JsValue::from(5)),
        (
            "iceServers not an array",
            obj(&[("iceServers", "stun:x".into())]),
        ),
        ("polite not a boolean", obj(&[("polite", "yes".into())])),
        ("stream not a MediaStream", obj(&[("stream", 5.into())])),
        ("channels not an array", obj(&[("channels", "chat".into())])),
    ];
    for (what, options) in cases {
        let e = RtcPeer::new(options)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{what}: {e:?}");
    }
    let p = peer(obj(&[
        ("iceServers", Array::new().into()),
        ("polite", true.into()),
    ]));
    assert!(p.polite().unwrap(), "polite as given");
    let e = p
        .create_channel(5.into(), JsValue::UNDEFINED)
        .err()
        .expect("label a number");
    assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{e:?}");
    p.close().unwrap();
}

#[wasm_bindgen_test]
async fn off_removes_a_peer_listener() {
    let pair = Pair::new(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let removed = on(&pair.a, "connect");
    pair.a.off("connect".into(), removed.f()).unwrap();
    channel(&pair.a, "x", JsValue::UNDEFINED);
    pair.connected().await;
    assert!(removed.is_empty(), "a removed listener is not called");
    pair.close();
}

// ----- MqttSignaling -----

/// A client and its signaling object in `room`, started.
struct Member {
    client: MqttClient,
    signaling: MqttSignaling,
    joined: Recorder,
    left: Recorder,
    incoming: Recorder,
    errors: Recorder,
}

async fn member(room: &str, peer_id: &str, meta: JsValue, will: bool) -> Member {
    let mut opts = vec![("reconnect", JsValue::FALSE)];
    if will {
        opts.push((
            "will",
            MqttSignaling::will(room.into(), peer_id.into(), None),
        ));
    }
    let client = connect(obj(&opts)).await;
    let options = obj(&[
        ("room", room.into()),
        ("peerId", peer_id.into()),
        ("meta", meta),
    ]);
    let signaling = MqttSignaling::new(&client, options).expect("new MqttSignaling");
    let m = Member {
        joined: Recorder::new(),
        left: Recorder::new(),
        incoming: Recorder::new(),
        errors: Recorder::new(),
        client,
        signaling,
    };
    m.signaling.on("peer-joined".into(), m.joined.f()).unwrap();
    m.signaling.on("peer-left".into(), m.left.f()).unwrap();
    m.signaling.on("incoming".into(), m.incoming.f()).unwrap();
    m.signaling.on("error".into(), m.errors.f()).unwrap();
    ok(m.signaling.start(), "signaling start").await;
    m
}

fn peer_id_is(id: &'static str) -> impl Fn(&JsValue) -> bool {
    move |p| get(p, "peerId").as_string().as_deref() == Some(id)
}

/// The signals recorded on the inbox topics, one line each: "from→to type candidate".
fn on_the_wire(wire: &Recorder) -> Vec<String> {
    wire.messages()
        .iter()
        .map(|m| {
            let body = js_sys::JSON::parse(&m.text).unwrap_or(JsValue::NULL);
            let signal = get(&body, "signal");
            let line = get(&get(&signal, "candidate"), "candidate").as_string();
            format!(
                "{}→{} {} {}",
                get(&body, "from").as_string().unwrap_or_default(),
                m.topic.rsplit('/').next().unwrap_or_default(),
                get(&signal, "type").as_string().unwrap_or_default(),
                line.map_or(String::new(), |l| l.chars().take(60).collect())
            )
        })
        .collect()
}

#[wasm_bindgen_test]
async fn a_call_through_mqtt_signaling_connects_two_clients() {
    let room = uid("room");
    let alice = member(&room, "alice", obj(&[("kind", "viewer".into())]), false).await;
    let bob = member(&room, "bob", obj(&[("kind", "camera".into())]), false).await;
    assert_eq!(alice.signaling.peer_id().unwrap(), "alice");
    let seen = alice
        .joined
        .wait_match("alice sees bob", TIMEOUT_MS, peer_id_is("bob"))
        .await;
    assert_eq!(
        get(&get(&seen, "meta"), "kind").as_string().as_deref(),
        Some("camera")
    );
    bob.joined
        .wait_match("bob sees alice", TIMEOUT_MS, peer_id_is("alice"))
        .await;
    let present: Vec<String> = alice
        .signaling
        .peers()
        .unwrap()
        .iter()
        .filter_map(|p| get(&p, "peerId").as_string())
        .collect();
    assert_eq!(present, ["bob"], "peers() lists the others, not itself");

    // Every signal travels through the inboxes: watched here to prove it (and to explain
    // a failure).
    let observer = connect_default().await;
    let wire = messages(&observer);
    subscribe(&observer, &format!("mqtt-rtc/{room}/inbox/+"), 1).await;
    // Bob listens for channels inside "incoming", as an application does: the channel
    // can arrive before this test's next poll.
    let callee_channels = Recorder::new();
    let listen_channels = callee_channels.f();
    let on_incoming = Closure::<dyn FnMut(JsValue)>::new(move |peer: JsValue| {
        call(
            &peer,
            "on",
            &["channel".into(), listen_channels.clone().into()],
        )
        .expect("on(channel)");
    })
    .into_js_value();
    bob.signaling
        .on("incoming".into(), on_incoming.unchecked_into())
        .unwrap();
    let options = obj(&[("channels", Array::of1(&"chat".into()).into())]);
    let caller = ok(alice.signaling.call("bob".into(), options), "call bob").await;
    bob.incoming
        .wait_len(1, RTC_TIMEOUT_MS, "bob's incoming call")
        .await;
    let (callee, from) = bob.incoming.args(0);
    assert_eq!(get(&from, "peerId").as_string().as_deref(), Some("alice"));
    assert_eq!(
        get(&get(&from, "meta"), "kind").as_string().as_deref(),
        Some("viewer")
    );

    // The peers of a call are JS objects held by the signaling: used through their methods.
    let state_of = |p: &JsValue| get(p, "connectionState").as_string().unwrap_or_default();
    let deadline = now() + f64::from(RTC_TIMEOUT_MS);
    while state_of(&caller) != "connected" || state_of(&callee) != "connected" {
        if now() > deadline {
            panic!(
                "the call did not connect: caller {}, callee {}; errors: alice {:?}, bob {:?}; \
                 signals on the wire: {:#?}",
                state_of(&caller),
                state_of(&callee),
                alice.errors.all(),
                bob.errors.all(),
                on_the_wire(&wire),
            );
        }
        sleep(10).await;
    }
    let local = call(&caller, "channels", &[]).expect("channels()");
    let local = RtcChannel::try_from_js_value(Array::from(&local).get(0)).expect("a channel");
    callee_channels
        .wait_len(1, RTC_TIMEOUT_MS, "the chat channel at bob")
        .await;
    let remote = RtcChannel::try_from_js_value(callee_channels.arg(0)).expect("a channel");
    assert_eq!(remote.label().unwrap(), "chat");
    open(&local).await;
    open(&remote).await;
    let (at_a, at_b) = (listen(&local, "message"), listen(&remote, "message"));
    ok(local.send("hi bob".into()), "alice sends").await;
    at_b.wait_len(1, TIMEOUT_MS, "bob's message").await;
    ok(remote.send("hi alice".into()), "bob sends").await;
    at_a.wait_len(1, TIMEOUT_MS, "alice's message").await;
    assert_eq!(at_b.arg(0).as_string().as_deref(), Some("hi bob"));
    assert_eq!(at_a.arg(0).as_string().as_deref(), Some("hi alice"));
    assert!(
        alice.errors.is_empty() && bob.errors.is_empty(),
        "no signaling errors"
    );
    let wire_lines = on_the_wire(&wire);
    assert!(
        wire_lines[0].starts_with("alice→bob offer"),
        "{wire_lines:#?}"
    );
    assert!(
        wire_lines.iter().any(|l| l.starts_with("bob→alice answer")),
        "{wire_lines:#?}"
    );
    end(&observer).await;

    ok(alice.signaling.stop(), "alice stops").await;
    assert_eq!(
        get(&caller, "connectionState").as_string().as_deref(),
        Some("closed"),
        "stop() closes the calls"
    );
    bob.left
        .wait_match("bob sees alice leave", TIMEOUT_MS, peer_id_is("alice"))
        .await;
    assert_eq!(bob.signaling.peers().unwrap().length(), 0);
    ok(bob.signaling.stop(), "bob stops").await;
    end(&alice.client).await;
    end(&bob.client).await;
}

#[wasm_bindgen_test]
async fn the_signaling_will_announces_an_abrupt_departure() {
    let room = uid("room");
    let watcher = member(&room, "watcher", JsValue::UNDEFINED, false).await;
    let cam = member(&room, "cam", JsValue::UNDEFINED, true).await;
    watcher
        .joined
        .wait_match("the camera joins", TIMEOUT_MS, peer_id_is("cam"))
        .await;
    ok(
        cam.client.end(obj(&[("force", true.into())])),
        "drop the camera",
    )
    .await;
    watcher
        .left
        .wait_match(
            "the Will clears the camera's presence",
            TIMEOUT_MS,
            peer_id_is("cam"),
        )
        .await;
    ok(watcher.signaling.stop(), "stop").await;
    end(&watcher.client).await;
}

#[wasm_bindgen_test]
async fn signaling_refuses_bad_names_self_calls_and_calls_before_start() {
    let client = connect_default().await;
    let bad = [
        ("no room", obj(&[])),
        ("room with a slash", obj(&[("room", "a/b".into())])),
        ("room with a wildcard", obj(&[("room", "a+".into())])),
        (
            "empty peerId",
            obj(&[("room", "r".into()), ("peerId", "".into())]),
        ),
        (
            "prefix with #",
            obj(&[("room", "r".into()), ("prefix", "x#".into())]),
        ),
    ];
    for (what, options) in bad {
        let e = MqttSignaling::new(&client, options)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(code_of(&e), "INVALID_ARGUMENT", "{what}: {e:?}");
    }
    let room = uid("room");
    let s = MqttSignaling::new(
        &client,
        obj(&[("room", room.as_str().into()), ("peerId", "me".into())]),
    )
    .expect("signaling");
    rejects(
        s.call("other".into(), JsValue::UNDEFINED),
        "NOT_STARTED",
        "call before start",
    )
    .await;
    ok(s.start(), "start").await;
    rejects(
        s.call("me".into(), JsValue::UNDEFINED),
        "INVALID_ARGUMENT",
        "call yourself",
    )
    .await;
    rejects(
        s.call("a/b".into(), JsValue::UNDEFINED),
        "INVALID_ARGUMENT",
        "bad peer id",
    )
    .await;
    ok(s.stop(), "stop").await;
    ok(s.stop(), "a second stop").await;
    end(&client).await;
}

#[wasm_bindgen_test]
async fn malformed_inbox_and_presence_messages_are_invalid_signal_errors() {
    let room = uid("room");
    let bob = member(&room, "bob", JsValue::UNDEFINED, false).await;
    let raw = connect_default().await;
    let inbox = format!("mqtt-rtc/{room}/inbox/bob");
    for body in [
        "not json",
        "{\"from\":\"eve\"}",
        "{\"from\":\"eve\",\"signal\":{\"type\":\"offer\",\"session\":\"s\"}}",
    ] {
        publish(&raw, &inbox, body, 1).await;
    }
    publish(&raw, &format!("mqtt-rtc/{room}/presence/eve"), "{broken", 1).await;
    bob.errors
        .wait_len(4, TIMEOUT_MS, "four error events")
        .await;
    assert!(bob
        .errors
        .all()
        .iter()
        .all(|e| code_of(e) == "INVALID_SIGNAL"));
    assert!(bob.incoming.is_empty(), "no call from malformed signals");
    assert_eq!(bob.signaling.peers().unwrap().length(), 0);
    ok(bob.signaling.stop(), "stop").await;
    end(&bob.client).await;
    end(&raw).await;
}

#[wasm_bindgen_test]
async fn a_custom_prefix_puts_presence_under_it() {
    let room = uid("room");
    let prefix = format!("lab/{}", uid("prefix"));
    let raw = connect_default().await;
    let seen = messages(&raw);
    subscribe(&raw, &format!("{prefix}/{room}/presence/+"), 1).await;
    let client = connect_default().await;
    let options = obj(&[
        ("room", room.as_str().into()),
        ("peerId", "probe".into()),
        ("prefix", prefix.as_str().into()),
    ]);
    let s = MqttSignaling::new(&client, options).expect("signaling");
    ok(s.start(), "start").await;
    let m = seen
        .wait_topic(&format!("{prefix}/{room}/presence/probe"))
        .await;
    assert!(m.retain || !m.text.is_empty());
    let body = js_sys::JSON::parse(&m.text).expect("presence is JSON");
    assert_eq!(get(&body, "peerId").as_string().as_deref(), Some("probe"));
    ok(s.stop(), "stop").await;
    // stop() clears the retained presence with an empty payload.
    let cleared = seen
        .wait_match("the cleared presence", TIMEOUT_MS, |m| {
            Msg::from_js(m).payload.is_empty()
        })
        .await;
    assert_eq!(
        Msg::from_js(&cleared).topic,
        format!("{prefix}/{room}/presence/probe")
    );
    end(&client).await;
    end(&raw).await;
}
