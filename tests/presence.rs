//! The presence and call state machine of `MqttSignaling` on a virtual clock: heartbeats,
//! expiry by arrival time, stale sessions, own messages, malformed and oversized
//! signals, and the glare roles both sides derive from the two peer ids.

use mqtt_rtc::error_code::ErrorCode;
use mqtt_rtc::rtc_core::room::{
    check_signal_size, polite, validate_name, CallError, Dropped, Output, PeerInfo, Presence, Room,
    HEARTBEAT_MS, MAX_SIGNAL_BYTES, PEER_TIMEOUT_MS,
};
use mqtt_rtc::rtc_core::signal::{CandidateInit, SdpKind, Signal};

/// Meta is a plain string here; peers are numbered handles.
type TestRoom = Room<&'static str, u32>;
type Out = Output<&'static str, u32>;

fn started(id: &str, now: u64) -> TestRoom {
    let mut r = Room::new(id);
    r.start(now);
    r
}

fn drain(r: &mut TestRoom) -> Vec<Out> {
    std::iter::from_fn(|| r.poll()).collect()
}

fn announce(meta: &'static str) -> Presence<&'static str> {
    Presence::Announce { meta, since: 1.0 }
}

fn info(id: &str, meta: &'static str, last_seen: u64) -> PeerInfo<&'static str> {
    PeerInfo {
        peer_id: id.into(),
        meta,
        since: 1.0,
        last_seen,
    }
}

fn offer(session: &str) -> Signal {
    Signal::Description {
        kind: SdpKind::Offer,
        sdp: "v=0".into(),
        session: session.into(),
    }
}

fn answer(session: &str) -> Signal {
    Signal::Description {
        kind: SdpKind::Answer,
        sdp: "v=0".into(),
        session: session.into(),
    }
}

fn candidate(session: &str) -> Signal {
    Signal::Candidate {
        candidate: CandidateInit::default(),
        session: session.into(),
    }
}

fn inbox(r: &mut TestRoom, from: &str, s: Signal) -> Vec<Out> {
    r.handle_inbox(Ok((from.into(), s)));
    drain(r)
}

#[test]
fn an_announcement_joins_once_and_heartbeats_do_not_join_again() {
    let mut r = started("a", 0);
    r.handle_presence(10, "b", announce("m1"));
    assert_eq!(drain(&mut r), vec![Output::PeerJoined(info("b", "m1", 10))]);
    r.handle_presence(20, "b", announce("m2"));
    assert_eq!(drain(&mut r), vec![]);
    // The roster has the latest meta and arrival time.
    assert_eq!(r.peer("b"), Some(&info("b", "m2", 20)));
}

#[test]
fn own_presence_is_never_in_the_roster() {
    let mut r = started("a", 0);
    r.handle_presence(10, "a", announce("me"));
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.peers().count(), 0);
}

#[test]
fn the_roster_is_ordered_by_peer_id() {
    let mut r = started("a", 0);
    for id in ["d", "b", "c"] {
        r.handle_presence(1, id, announce("x"));
    }
    let ids: Vec<&str> = r.peers().map(|p| p.peer_id.as_str()).collect();
    assert_eq!(ids, ["b", "c", "d"]);
}

#[test]
fn an_empty_presence_makes_the_peer_leave() {
    let mut r = started("a", 0);
    r.handle_presence(10, "b", announce("m"));
    drain(&mut r);
    r.handle_presence(30, "b", Presence::Left);
    assert_eq!(drain(&mut r), vec![Output::PeerLeft(info("b", "m", 10))]);
    // Leaving twice, or a peer never seen leaving, says nothing.
    r.handle_presence(40, "b", Presence::Left);
    r.handle_presence(40, "z", Presence::Left);
    assert_eq!(drain(&mut r), vec![]);
}

#[test]
fn a_malformed_presence_is_an_error_and_changes_nothing() {
    let mut r = started("a", 0);
    r.handle_presence(10, "b", Presence::Malformed);
    assert_eq!(
        drain(&mut r),
        vec![Output::Invalid("malformed presence of b".into())]
    );
    assert_eq!(r.peers().count(), 0);
}

#[test]
fn heartbeats_come_every_15_seconds() {
    let mut r = started("a", 1000);
    assert_eq!(r.poll_timeout(), Some(1000 + HEARTBEAT_MS));
    r.handle_timeout(1000 + HEARTBEAT_MS - 1);
    assert_eq!(drain(&mut r), vec![]);
    r.handle_timeout(1000 + HEARTBEAT_MS);
    assert_eq!(drain(&mut r), vec![Output::Announce]);
    assert_eq!(r.poll_timeout(), Some(1000 + 2 * HEARTBEAT_MS));
}

#[test]
fn a_peer_silent_for_more_than_45_seconds_leaves() {
    assert_eq!(PEER_TIMEOUT_MS, 45_000);
    let mut r = started("a", 0);
    r.handle_presence(5_000, "b", announce("m"));
    drain(&mut r);
    // The expiry is the next deadline once it comes before the heartbeat.
    r.handle_timeout(HEARTBEAT_MS);
    r.handle_timeout(2 * HEARTBEAT_MS);
    r.handle_timeout(3 * HEARTBEAT_MS);
    assert_eq!(drain(&mut r), vec![Output::Announce; 3]);
    assert_eq!(r.poll_timeout(), Some(5_000 + PEER_TIMEOUT_MS + 1));
    r.handle_timeout(5_000 + PEER_TIMEOUT_MS);
    assert_eq!(drain(&mut r), vec![]);
    r.handle_timeout(5_000 + PEER_TIMEOUT_MS + 1);
    assert_eq!(drain(&mut r), vec![Output::PeerLeft(info("b", "m", 5_000))]);
    assert_eq!(r.peers().count(), 0);
}

#[test]
fn heartbeats_of_the_other_peer_keep_it_present() {
    let mut r = started("a", 0);
    for t in (0..10).map(|i| i * HEARTBEAT_MS) {
        r.handle_presence(t, "b", announce("m"));
        r.handle_timeout(t + HEARTBEAT_MS - 1);
    }
    let roster: Vec<Out> = drain(&mut r)
        .into_iter()
        .filter(|o| *o != Output::Announce)
        .collect();
    assert_eq!(roster, vec![Output::PeerJoined(info("b", "m", 0))]);
}

#[test]
fn liveness_counts_from_arrival_not_from_the_senders_clock() {
    // An announcement is judged only by when it arrived here: there is no sender time in
    // `Presence` at all, so a peer with a skewed clock is present as long as it talks.
    let mut r = started("a", 1_000_000);
    r.handle_presence(
        1_000_000,
        "b",
        Presence::Announce {
            meta: "m",
            since: 0.0,
        },
    );
    assert!(matches!(drain(&mut r)[..], [Output::PeerJoined(_)]));
    r.handle_timeout(1_000_000 + PEER_TIMEOUT_MS);
    assert!(r.peer("b").is_some());
}

#[test]
fn stop_closes_calls_forgets_the_roster_and_ignores_later_input() {
    let mut r = started("a", 0);
    r.handle_presence(1, "b", announce("m"));
    drain(&mut r);
    assert_eq!(r.open_call("b"), Ok(true));
    r.call_created("b", 7, "la".into(), None);
    assert!(r.stop());
    assert_eq!(drain(&mut r), vec![Output::ClosePeer(7)]);
    assert_eq!(r.peers().count(), 0);
    assert_eq!(r.poll_timeout(), None);
    assert!(!r.stop());
    // Messages still in flight while unsubscribing: no roster, no call, no heartbeat...
    r.handle_presence(2, "c", announce("m"));
    r.handle_inbox(Ok(("c".into(), offer("s"))));
    r.handle_timeout(HEARTBEAT_MS * 10);
    assert_eq!(
        drain(&mut r),
        vec![Output::Dropped {
            from: "c".into(),
            reason: Dropped::Stopped
        }]
    );
    assert_eq!(r.peers().count(), 0);
    // ...but malformed ones are still reported.
    r.handle_presence(3, "c", Presence::Malformed);
    r.handle_inbox(Err("signal is not json".into()));
    assert_eq!(
        drain(&mut r),
        vec![
            Output::Invalid("malformed presence of c".into()),
            Output::Invalid("signal is not json".into())
        ]
    );
}

#[test]
fn calls_need_start_and_another_valid_peer() {
    let mut r: TestRoom = Room::new("a");
    assert_eq!(r.open_call("b"), Err(CallError::NotStarted));
    assert_eq!(CallError::NotStarted.code(), ErrorCode::NotStarted);
    r.start(0);
    assert_eq!(r.open_call("a"), Err(CallError::OwnId));
    assert_eq!(r.open_call("b/c"), Err(CallError::InvalidId));
    assert_eq!(r.open_call(""), Err(CallError::InvalidId));
    assert_eq!(CallError::InvalidId.code(), ErrorCode::InvalidArgument);
    assert!(validate_name("room", "x+y").is_err());
    assert!(validate_name("room", "x#").is_err());
    assert!(validate_name("room", "ok-1").is_ok());
}

#[test]
fn glare_roles_come_from_the_two_ids_so_exactly_one_side_is_polite() {
    for (x, y) in [("a", "b"), ("peer-2", "peer-10"), ("Z", "a")] {
        assert_ne!(polite(x, y), polite(y, x));
    }
    let mut a = started("a", 0);
    let mut b = started("b", 0);
    assert_eq!(a.open_call("b"), Ok(true));
    assert_eq!(b.open_call("a"), Ok(false));
    // The callee side of an offer gets the same role as it would calling.
    assert_eq!(
        inbox(&mut b, "a", offer("sa")),
        vec![Output::CreatePeer {
            remote: "a".into(),
            polite: false,
            signal: offer("sa")
        }]
    );
}

#[test]
fn calling_a_peer_again_closes_the_previous_call() {
    let mut r = started("a", 0);
    r.open_call("b").unwrap();
    r.call_created("b", 1, "l1".into(), None);
    assert_eq!(drain(&mut r), vec![]);
    r.open_call("b").unwrap();
    assert_eq!(drain(&mut r), vec![Output::ClosePeer(1)]);
    r.call_created("b", 2, "l2".into(), None);
    assert_eq!(r.call_peer("b"), Some(&2));
}

#[test]
fn an_offer_opens_an_incoming_call_and_later_signals_reach_its_peer() {
    let mut r = started("b", 0);
    let out = inbox(&mut r, "a", offer("sa"));
    assert_eq!(
        out,
        vec![Output::CreatePeer {
            remote: "a".into(),
            polite: false,
            signal: offer("sa")
        }]
    );
    r.call_created("a", 5, "sb".into(), Some("sa".into()));
    assert_eq!(
        inbox(&mut r, "a", candidate("sa")),
        vec![Output::Deliver {
            peer: 5,
            signal: candidate("sa")
        }]
    );
}

#[test]
fn an_outgoing_call_locks_onto_the_first_remote_session() {
    let mut r = started("a", 0);
    r.open_call("b").unwrap();
    r.call_created("b", 3, "sa".into(), None);
    assert_eq!(
        inbox(&mut r, "b", answer("sb")),
        vec![Output::Deliver {
            peer: 3,
            signal: answer("sb")
        }]
    );
    // A non-offer of another session does not belong to this call.
    assert_eq!(
        inbox(&mut r, "b", candidate("other")),
        vec![Output::Dropped {
            from: "b".into(),
            reason: Dropped::OtherSession
        }]
    );
}

#[test]
fn a_new_offer_under_another_session_replaces_the_call() {
    let mut r = started("b", 0);
    inbox(&mut r, "a", offer("s1"));
    r.call_created("a", 1, "l1".into(), Some("s1".into()));
    assert_eq!(
        inbox(&mut r, "a", offer("s2")),
        vec![
            Output::ClosePeer(1),
            Output::CreatePeer {
                remote: "a".into(),
                polite: false,
                signal: offer("s2")
            }
        ]
    );
    r.call_created("a", 2, "l2".into(), Some("s2".into()));
    // The replaced session is stale from now on.
    assert_eq!(
        inbox(&mut r, "a", offer("s1")),
        vec![Output::Dropped {
            from: "a".into(),
            reason: Dropped::Stale
        }]
    );
}

#[test]
fn signals_of_a_closed_call_are_stale_even_offers() {
    let mut r = started("b", 0);
    inbox(&mut r, "a", offer("s1"));
    r.call_created("a", 1, "l1".into(), Some("s1".into()));
    // Another peer's close report does not end this call.
    assert_eq!(r.peer_closed("a", "not-mine"), None);
    assert_eq!(r.peer_closed("a", "l1"), Some(1));
    assert_eq!(r.call_peer("a"), None);
    for s in [offer("s1"), candidate("s1")] {
        assert_eq!(
            inbox(&mut r, "a", s),
            vec![Output::Dropped {
                from: "a".into(),
                reason: Dropped::Stale
            }]
        );
    }
    // A fresh session is a new call.
    assert!(matches!(
        inbox(&mut r, "a", offer("s3"))[..],
        [Output::CreatePeer { .. }]
    ));
}

#[test]
fn a_call_found_closed_before_its_close_report_ends_quietly() {
    let mut r = started("b", 0);
    inbox(&mut r, "a", offer("s1"));
    r.call_created("a", 1, "l1".into(), Some("s1".into()));
    // The driver saw the peer closed: the call ends without closing it again.
    assert_eq!(r.end_call("a"), Some(1));
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.peer_closed("a", "l1"), None);
}

#[test]
fn own_signals_are_never_processed() {
    let mut r = started("b", 0);
    assert_eq!(
        inbox(&mut r, "b", offer("own")),
        vec![Output::Dropped {
            from: "b".into(),
            reason: Dropped::Own
        }]
    );
}

#[test]
fn signals_without_a_call_are_dropped_unless_offers() {
    let mut r = started("b", 0);
    for s in [answer("s"), candidate("s")] {
        assert_eq!(
            inbox(&mut r, "a", s),
            vec![Output::Dropped {
                from: "a".into(),
                reason: Dropped::NoCall
            }]
        );
    }
}

#[test]
fn malformed_and_oversized_signals_are_errors_not_calls() {
    let mut r = started("b", 0);
    r.handle_inbox(Err("signal is not json".into()));
    assert_eq!(
        drain(&mut r),
        vec![Output::Invalid("signal is not json".into())]
    );
    assert!(check_signal_size(MAX_SIGNAL_BYTES).is_ok());
    let e = check_signal_size(MAX_SIGNAL_BYTES + 1).unwrap_err();
    assert!(e.contains("exceeds"), "{e}");
    assert_eq!(r.call_peer("a"), None);
}

/// A peer's signaling protocol version: ours or absent is accepted; any other is refused
/// with the number as the peer sent it, and a fraction is named without float printing.
#[test]
fn protocol_version_check() {
    use mqtt_rtc::rtc_core::signal::{check_version, PROTOCOL_VERSION};
    assert_eq!(check_version(None), Ok(()));
    assert_eq!(check_version(Some(f64::from(PROTOCOL_VERSION))), Ok(()));
    let newer = check_version(Some(f64::from(PROTOCOL_VERSION) + 1.0)).unwrap_err();
    assert!(
        newer.starts_with(&format!("protocol version {} ", PROTOCOL_VERSION + 1)),
        "{newer}"
    );
    let odd = check_version(Some(1.5)).unwrap_err();
    assert!(odd.contains("not a whole number"), "{odd}");
    assert!(check_version(Some(f64::NAN)).is_err());
}
