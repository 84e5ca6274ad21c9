//! The presence and call state machine of `MqttSignaling`, sans-IO like the MQTT session:
//! inputs are received presence and inbox messages (already read from JSON by the
//! driver) with the receiver's own arrival time, commands are `start`, `stop`,
//! `open_call` and the peer lifecycle reports, outputs are polled with [`Room::poll`] and
//! the next deadline with [`Room::poll_timeout`]. It must never read a clock, draw a
//! random number or call JS: the driver owns the peers (`P`, a handle) and the meta
//! values (`M`), this module only decides what happens to them.
//!
//! A driver calls, in a loop: an input or command, then `poll` until `None` (acting on
//! each output with no state borrowed), then arms one timer at `poll_timeout` whose
//! expiry calls `handle_timeout`.

use std::collections::VecDeque;

use super::signal::Signal;
use crate::error_code::ErrorCode;
use crate::map::{VecMap, VecSet};

/// How often presence is republished, milliseconds.
pub const HEARTBEAT_MS: u64 = 15_000;
/// A peer not heard of for longer than this has left, milliseconds.
pub const PEER_TIMEOUT_MS: u64 = 3 * HEARTBEAT_MS;
/// Largest inbox or presence message accepted (an SDP with many candidates is well below).
pub const MAX_SIGNAL_BYTES: usize = 256 * 1024;
/// Signals held for an incoming call whose peer is still being created (its `onIncoming`
/// hook or ICE servers are awaited); a trickle of candidates stays well below.
pub const MAX_PENDING_SIGNALS: usize = 128;

/// A peer present in the room.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo<M> {
    pub peer_id: String,
    /// What the peer announced with its presence.
    pub meta: M,
    /// When the peer started, as it announced it (milliseconds since the epoch).
    pub since: f64,
    /// When this side last received its presence (the driver's clock, milliseconds).
    pub last_seen: u64,
}

/// A received presence message, as the driver read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence<M> {
    /// An empty retained payload: the peer stopped, or its Will fired.
    Left,
    /// An announcement or heartbeat.
    Announce { meta: M, since: f64 },
    /// Not JSON, or larger than [`MAX_SIGNAL_BYTES`].
    Malformed,
}

/// Why an inbox signal was dropped without reaching a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// It claims to come from this peer id.
    Own,
    /// Its session belongs to a call that is over.
    Stale,
    /// The call with its sender uses another remote session, and it is no offer.
    OtherSession,
    /// There is no call with its sender, and it is no offer.
    NoCall,
    /// It arrived while stopped (in flight while `stop` unsubscribes): no call starts.
    Stopped,
    /// The call's peer is still being created and [`MAX_PENDING_SIGNALS`] are held already.
    Backlog,
    /// A refusal that names no call of this side.
    NoSuchCall,
}

/// What the driver must do or report, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output<M, P> {
    /// Publish this peer's presence (retained) again: the heartbeat.
    Announce,
    /// Emit `peer-joined`.
    PeerJoined(PeerInfo<M>),
    /// Emit `peer-left`.
    PeerLeft(PeerInfo<M>),
    /// An offer opened a call: create a peer for `remote` (with `polite`), report it with
    /// [`Room::call_created`] (remote session: the signal's), emit `incoming`, then hand
    /// it `signal` (or refuse the call with [`Room::call_refused`]). The creation may
    /// take time: signals of the call that arrive meanwhile are held and delivered once
    /// it is reported.
    CreatePeer {
        remote: String,
        polite: bool,
        signal: Signal,
    },
    /// Hand `signal` to the peer of a call.
    Deliver { peer: P, signal: Signal },
    /// Close this peer: its call is over (replaced, or `stop`).
    ClosePeer(P),
    /// A signal that reaches no peer (for logging only).
    Dropped { from: String, reason: Dropped },
    /// A malformed presence or signal: emit an `INVALID_SIGNAL` error.
    Invalid(String),
}

/// Why `open_call` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// `start` was not called (or `stop` was).
    NotStarted,
    /// The callee is this peer.
    OwnId,
    /// The callee id is empty or contains '/', '+', '#' or NUL.
    InvalidId,
}

impl CallError {
    pub fn code(self) -> ErrorCode {
        match self {
            CallError::NotStarted => ErrorCode::NotStarted,
            CallError::OwnId | CallError::InvalidId => ErrorCode::InvalidArgument,
        }
    }

    pub fn message(self) -> String {
        match self {
            CallError::NotStarted => "call start() first".into(),
            CallError::OwnId => "cannot call yourself".into(),
            CallError::InvalidId => name_rule("peerId"),
        }
    }
}

fn name_rule(what: &str) -> String {
    format!("{what} must be non-empty and contain no '/', '+' or '#'")
}

/// Checks a room name or peer id: it is one topic level.
pub fn validate_name(what: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.contains(['/', '+', '#', '\0']) {
        return Err(name_rule(what));
    }
    Ok(())
}

/// Checks the size of a received inbox message before it is parsed.
pub fn check_signal_size(len: usize) -> Result<(), String> {
    if len > MAX_SIGNAL_BYTES {
        return Err(format!("signal of {len} bytes exceeds {MAX_SIGNAL_BYTES}"));
    }
    Ok(())
}

/// The perfect-negotiation role on a call between `own` and `remote`: both sides compute
/// it from the two ids, so exactly one of them is polite.
pub fn polite(own: &str, remote: &str) -> bool {
    own < remote
}

struct Call<P> {
    /// `None` while the peer of an incoming call is being created.
    peer: Option<P>,
    /// Signals received while `peer` is `None`, in order.
    held: Vec<Signal>,
    /// Our own peer's session id (empty while the peer is being created).
    local_session: String,
    /// The first session the remote side used in this call.
    remote_session: Option<String>,
}

/// Presence and calls of one peer in one room.
pub struct Room<M, P> {
    peer_id: String,
    started: bool,
    peers: VecMap<String, PeerInfo<M>>,
    calls: VecMap<String, Call<P>>,
    /// Remote sessions of calls that are over: their late signals are dropped.
    closed_sessions: VecSet<String>,
    next_heartbeat: Option<u64>,
    out: VecDeque<Output<M, P>>,
}

impl<M: Clone, P: Clone> Room<M, P> {
    pub fn new(peer_id: impl Into<String>) -> Self {
        Room {
            peer_id: peer_id.into(),
            started: false,
            peers: VecMap::new(),
            calls: VecMap::new(),
            closed_sessions: VecSet::new(),
            next_heartbeat: None,
            out: VecDeque::new(),
        }
    }

    // Getters.

    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Who is present (not counting this peer), ordered by peer id.
    pub fn peers(&self) -> impl Iterator<Item = &PeerInfo<M>> {
        self.peers.values()
    }

    pub fn peer(&self, peer_id: &str) -> Option<&PeerInfo<M>> {
        self.peers.get(peer_id)
    }

    /// The peer of the call with `remote`, if there is one.
    pub fn call_peer(&self, remote: &str) -> Option<&P> {
        self.calls.get(remote).and_then(|c| c.peer.as_ref())
    }

    // Commands.

    /// Starts: the driver announces presence itself (and waits for it); heartbeats follow
    /// every [`HEARTBEAT_MS`] from `now`.
    pub fn start(&mut self, now: u64) {
        self.started = true;
        self.next_heartbeat = Some(now + HEARTBEAT_MS);
    }

    /// Stops: every call is closed, the roster is forgotten (no `peer-left`), timers end.
    /// Returns false when not started (nothing to undo).
    pub fn stop(&mut self) -> bool {
        if !std::mem::replace(&mut self.started, false) {
            return false;
        }
        let remotes: Vec<String> = self.calls.keys().cloned().collect();
        for remote in remotes {
            self.close_call(&remote);
        }
        self.peers.clear();
        self.next_heartbeat = None;
        true
    }

    /// Prepares a call to `remote`: a previous call with it is closed (an output). Returns
    /// whether this side is polite; the driver then creates the peer and reports it with
    /// [`Room::call_created`].
    pub fn open_call(&mut self, remote: &str) -> Result<bool, CallError> {
        if !self.started {
            return Err(CallError::NotStarted);
        }
        if remote == self.peer_id {
            return Err(CallError::OwnId);
        }
        validate_name("peerId", remote).map_err(|_| CallError::InvalidId)?;
        self.close_call(remote);
        Ok(polite(&self.peer_id, remote))
    }

    /// The driver created `peer` (session `local_session`) for a call with `remote`;
    /// `remote_session` is known when an offer opened the call. Returns false when that
    /// incoming call is no longer awaited (replaced, or `stop` ran while the peer was
    /// being created): the driver closes `peer` and forgets it. Signals held for the call
    /// become `Deliver` outputs.
    pub fn call_created(
        &mut self,
        remote: &str,
        peer: P,
        local_session: String,
        remote_session: Option<String>,
    ) -> bool {
        if let Some(session) = &remote_session {
            let Some(call) = self
                .calls
                .get_mut(remote)
                .filter(|c| c.peer.is_none() && c.remote_session.as_ref() == Some(session))
            else {
                return false;
            };
            call.peer = Some(peer.clone());
            call.local_session = local_session;
            for signal in std::mem::take(&mut call.held) {
                let peer = peer.clone();
                self.out.push_back(Output::Deliver { peer, signal });
            }
            return true;
        }
        let call = Call {
            peer: Some(peer),
            held: Vec::new(),
            local_session,
            remote_session,
        };
        if let Some(old) = self.calls.insert(remote.to_string(), call) {
            // Two creations without an `open_call` or offer between them: close the older.
            self.closed_sessions.extend(old.remote_session);
            if let Some(peer) = old.peer {
                self.out.push_back(Output::ClosePeer(peer));
            }
        }
        true
    }

    /// The driver refused the incoming call of `remote_session` (the application said no,
    /// or its peer could not be created). Returns whether that call was still awaited:
    /// then the driver tells the caller, whose later signals are dropped as stale.
    pub fn call_refused(&mut self, remote: &str, remote_session: &str) -> bool {
        let awaited = self.calls.get(remote).is_some_and(|c| {
            c.peer.is_none() && c.remote_session.as_deref() == Some(remote_session)
        });
        if awaited {
            self.end_call(remote);
        }
        awaited
    }

    /// The peer of session `local_session` closed. Returns its handle (for the driver to
    /// release) when it still was the peer of the call with `remote`.
    pub fn peer_closed(&mut self, remote: &str, local_session: &str) -> Option<P> {
        let ours = self
            .calls
            .get(remote)
            .is_some_and(|c| c.local_session == local_session);
        if !ours {
            return None;
        }
        self.end_call(remote)
    }

    /// The call with `remote` is over (its peer is closed): forget it without closing the
    /// peer again. Returns its handle.
    pub fn end_call(&mut self, remote: &str) -> Option<P> {
        let call = self.calls.remove(remote)?;
        self.closed_sessions.extend(call.remote_session);
        call.peer
    }

    fn close_call(&mut self, remote: &str) {
        if let Some(peer) = self.end_call(remote) {
            self.out.push_back(Output::ClosePeer(peer));
        }
    }

    // Inputs.

    /// A presence message of `peer_id` arrived at `now`. Liveness counts from arrival on
    /// this side, so a sender's clock never decides whether it is present. While stopped
    /// only a malformed one is reported (the roster is not kept).
    pub fn handle_presence(&mut self, now: u64, peer_id: &str, presence: Presence<M>) {
        if peer_id == self.peer_id {
            return;
        }
        if !self.started && !matches!(presence, Presence::Malformed) {
            return;
        }
        match presence {
            Presence::Left => {
                if let Some(p) = self.peers.remove(peer_id) {
                    self.out.push_back(Output::PeerLeft(p));
                }
            }
            Presence::Malformed => self
                .out
                .push_back(Output::Invalid(format!("malformed presence of {peer_id}"))),
            Presence::Announce { meta, since } => {
                let info = PeerInfo {
                    peer_id: peer_id.to_string(),
                    meta,
                    since,
                    last_seen: now,
                };
                if self
                    .peers
                    .insert(peer_id.to_string(), info.clone())
                    .is_none()
                {
                    self.out.push_back(Output::PeerJoined(info));
                }
            }
        }
    }

    /// An inbox message arrived: `Ok((from, signal))`, or why it could not be read. While
    /// stopped, a malformed one is still reported but none reaches or opens a call.
    pub fn handle_inbox(&mut self, message: Result<(String, Signal), String>) {
        let (from, signal) = match message {
            Ok(m) => m,
            Err(e) => return self.out.push_back(Output::Invalid(e)),
        };
        if !self.started {
            return self.drop_signal(from, Dropped::Stopped);
        }
        if from == self.peer_id {
            return self.drop_signal(from, Dropped::Own);
        }
        if self.closed_sessions.contains(signal.session()) {
            return self.drop_signal(from, Dropped::Stale);
        }
        let session = signal.session().to_string();
        match self.calls.get_mut(&from) {
            Some(c) if c.remote_session.as_deref() == Some(session.as_str()) => match &c.peer {
                Some(peer) => {
                    let peer = peer.clone();
                    self.out.push_back(Output::Deliver { peer, signal });
                }
                None if c.held.len() < MAX_PENDING_SIGNALS => c.held.push(signal),
                None => self.drop_signal(from, Dropped::Backlog),
            },
            Some(c) if c.remote_session.is_none() => {
                c.remote_session = Some(session);
                // invariant: only incoming calls wait for their peer, and they have a
                // remote session from their offer; this arm is an outgoing call.
                if let Some(peer) = c.peer.clone() {
                    self.out.push_back(Output::Deliver { peer, signal });
                }
            }
            // A new offer under another session: the remote side started over.
            Some(_) if signal.is_offer() => {
                self.close_call(&from);
                self.create_peer(from, signal);
            }
            // A late signal of a session this call does not use.
            Some(_) => self.drop_signal(from, Dropped::OtherSession),
            None if signal.is_offer() => self.create_peer(from, signal),
            None => self.drop_signal(from, Dropped::NoCall),
        }
    }

    /// `from` refused the call this side's peer `session` made: the call is over, and its
    /// peer is returned for the driver to end with a `CALL_REJECTED` error (no output, so
    /// drivers that make no calls need not know of refusals). Ignored (a `Dropped`
    /// output) unless it names the current call with `from`: a refusal of an older call
    /// comes too late to matter.
    pub fn handle_refusal(&mut self, from: &str, session: &str) -> Option<P> {
        if !self.started {
            self.drop_signal(from.to_string(), Dropped::Stopped);
            return None;
        }
        let ours = self.calls.get(from).is_some_and(|c| {
            c.peer.is_some() && !c.local_session.is_empty() && c.local_session == session
        });
        let peer = ours.then(|| self.end_call(from)).flatten();
        if peer.is_none() {
            self.drop_signal(from.to_string(), Dropped::NoSuchCall);
        }
        peer
    }

    fn create_peer(&mut self, remote: String, signal: Signal) {
        let polite = polite(&self.peer_id, &remote);
        // Awaited: signals of this session are held until the driver reports the peer.
        self.calls.insert(
            remote.clone(),
            Call {
                peer: None,
                held: Vec::new(),
                local_session: String::new(),
                remote_session: Some(signal.session().to_string()),
            },
        );
        self.out.push_back(Output::CreatePeer {
            remote,
            polite,
            signal,
        });
    }

    fn drop_signal(&mut self, from: String, reason: Dropped) {
        self.out.push_back(Output::Dropped { from, reason });
    }

    /// The timer armed at [`Room::poll_timeout`] fired: expires silent peers (longer than
    /// [`PEER_TIMEOUT_MS`]) and asks for a heartbeat when one is due.
    pub fn handle_timeout(&mut self, now: u64) {
        if !self.started {
            return;
        }
        let gone: Vec<String> = self
            .peers
            .values()
            .filter(|p| now.saturating_sub(p.last_seen) > PEER_TIMEOUT_MS)
            .map(|p| p.peer_id.clone())
            .collect();
        for id in gone {
            if let Some(p) = self.peers.remove(&id) {
                self.out.push_back(Output::PeerLeft(p));
            }
        }
        if self.next_heartbeat.is_some_and(|t| t <= now) {
            self.out.push_back(Output::Announce);
            self.next_heartbeat = Some(now + HEARTBEAT_MS);
        }
    }

    // Outputs.

    /// The next output, in the order they arose.
    pub fn poll(&mut self) -> Option<Output<M, P>> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must be called next: the heartbeat or the first expiry.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.started {
            return None;
        }
        let expiry = self
            .peers
            .values()
            .map(|p| p.last_seen + PEER_TIMEOUT_MS + 1)
            .min();
        match (self.next_heartbeat, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtc_core::signal::{CandidateInit, SdpKind};

    fn offer(session: &str) -> Signal {
        Signal::Description {
            kind: SdpKind::Offer,
            sdp: "v=0".into(),
            session: session.into(),
        }
    }

    fn candidate(session: &str, line: &str) -> Signal {
        Signal::Candidate {
            candidate: CandidateInit {
                candidate: line.into(),
                ..CandidateInit::default()
            },
            session: session.into(),
        }
    }

    fn drain(r: &mut Room<(), u32>) -> Vec<Output<(), u32>> {
        std::iter::from_fn(|| r.poll()).collect()
    }

    fn started(id: &str) -> Room<(), u32> {
        let mut r = Room::new(id);
        r.start(0);
        r
    }

    #[test]
    fn signals_arriving_while_the_callee_peer_is_made_are_held_then_delivered_in_order() {
        let mut r = started("b");
        r.handle_inbox(Ok(("a".into(), offer("sa"))));
        assert!(matches!(drain(&mut r)[..], [Output::CreatePeer { .. }]));
        r.handle_inbox(Ok(("a".into(), candidate("sa", "c1"))));
        r.handle_inbox(Ok(("a".into(), candidate("sa", "c2"))));
        assert_eq!(drain(&mut r), vec![]);
        assert_eq!(r.call_peer("a"), None);
        assert!(r.call_created("a", 9, "sb".into(), Some("sa".into())));
        assert_eq!(
            drain(&mut r),
            vec![
                Output::Deliver {
                    peer: 9,
                    signal: candidate("sa", "c1")
                },
                Output::Deliver {
                    peer: 9,
                    signal: candidate("sa", "c2")
                },
            ]
        );
        assert_eq!(r.call_peer("a"), Some(&9));
    }

    #[test]
    fn held_signals_are_bounded() {
        let mut r = started("b");
        r.handle_inbox(Ok(("a".into(), offer("sa"))));
        for i in 0..=MAX_PENDING_SIGNALS {
            r.handle_inbox(Ok(("a".into(), candidate("sa", &format!("c{i}")))));
        }
        let out = drain(&mut r);
        assert_eq!(
            out.last(),
            Some(&Output::Dropped {
                from: "a".into(),
                reason: Dropped::Backlog
            })
        );
        assert!(r.call_created("a", 1, "sb".into(), Some("sa".into())));
        assert_eq!(drain(&mut r).len(), MAX_PENDING_SIGNALS);
    }

    #[test]
    fn a_refused_call_is_over_and_its_late_signals_are_stale() {
        let mut r = started("b");
        r.handle_inbox(Ok(("a".into(), offer("sa"))));
        drain(&mut r);
        assert!(!r.call_refused("a", "other"));
        assert!(r.call_refused("a", "sa"));
        assert!(!r.call_refused("a", "sa"));
        r.handle_inbox(Ok(("a".into(), candidate("sa", "c"))));
        assert_eq!(
            drain(&mut r),
            vec![Output::Dropped {
                from: "a".into(),
                reason: Dropped::Stale
            }]
        );
        // A peer made anyway (the refusal raced with it) is not recorded.
        assert!(!r.call_created("a", 3, "sb".into(), Some("sa".into())));
        assert_eq!(r.call_peer("a"), None);
    }

    #[test]
    fn a_peer_made_after_stop_or_a_newer_offer_is_not_recorded() {
        let mut r = started("b");
        r.handle_inbox(Ok(("a".into(), offer("s1"))));
        r.handle_inbox(Ok(("a".into(), offer("s2"))));
        assert!(!r.call_created("a", 1, "l1".into(), Some("s1".into())));
        assert!(r.call_created("a", 2, "l2".into(), Some("s2".into())));
        r.handle_inbox(Ok(("c".into(), offer("s3"))));
        assert!(r.stop());
        assert!(!r.call_created("c", 3, "l3".into(), Some("s3".into())));
        assert!(drain(&mut r).contains(&Output::ClosePeer(2)));
    }

    #[test]
    fn a_refusal_ends_the_callers_current_call_only() {
        let mut r = started("a");
        r.open_call("b").unwrap();
        assert!(r.call_created("b", 4, "la".into(), None));
        assert_eq!(r.handle_refusal("b", "older"), None);
        assert_eq!(r.handle_refusal("c", "la"), None);
        assert_eq!(
            drain(&mut r),
            vec![
                Output::Dropped {
                    from: "b".into(),
                    reason: Dropped::NoSuchCall
                },
                Output::Dropped {
                    from: "c".into(),
                    reason: Dropped::NoSuchCall
                }
            ]
        );
        assert_eq!(r.handle_refusal("b", "la"), Some(4));
        assert_eq!(drain(&mut r), vec![]);
        assert_eq!(r.call_peer("b"), None);
        // Its answer, if one still comes, is stale.
        r.handle_inbox(Ok(("b".into(), candidate("sb", "c"))));
        assert!(matches!(
            drain(&mut r)[..],
            [Output::Dropped {
                reason: Dropped::NoCall,
                ..
            }]
        ));
    }
}
