//! `RtcPeer`: one `RTCPeerConnection` driven with the W3C "perfect negotiation" pattern
//! (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example), so either side may
//! start or renegotiate at any time, collisions included: the polite side rolls back its
//! own offer, the impolite side ignores the colliding one.
//!
//! Incoming signals are applied one at a time, in order (a queue drained by one task), so
//! a candidate never overtakes the description it belongs to. Candidates that arrive
//! before any remote description are held and added right after it is set. Every
//! outgoing signal carries this peer's `session`; incoming ones from any session but the
//! first remote one seen are dropped, which discards stale signals of an earlier call.
//!
//! The peer keeps itself alive until `close()`, like the connection it wraps; browser
//! callbacks hold weak references, and no borrow is held across an `await` or a JS call:
//! state is borrowed through `web::borrow` (busy: a `BUSY` error, rejected to a caller or
//! logged in a browser callback) and listeners run from a `web::Deferred` afterwards.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcDataChannelEvent, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcRtpSender, RtcSdpType, RtcSessionDescriptionInit,
    RtcSignalingState, RtcTrackEvent,
};

use super::channel::{self, ChannelInner, RtcChannel};
use super::ice::{self, IceConfig};
use super::message::{CandidateInit, SdpKind, Signal};
use super::{
    borrow, bury, describe, error, get, is_absent, random_id, read, rejected, report, set, sys,
    Deferred, Listeners, Pending,
};
use crate::error_code::ErrorCode;
use crate::map::VecMap;
use crate::web::{EventListener, MqttError, Timer};

struct Handlers {
    pc: RtcPeerConnection,
    _negotiation: Closure<dyn FnMut()>,
    _candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    _state: Closure<dyn FnMut()>,
    _channel: Closure<dyn FnMut(RtcDataChannelEvent)>,
    _track: Closure<dyn FnMut(RtcTrackEvent)>,
    /// `icecandidateerror`: a STUN/TURN server that refused or did not answer.
    _candidate_error: EventListener,
    _gathering: EventListener,
}

impl Drop for Handlers {
    fn drop(&mut self) {
        self.pc.set_onnegotiationneeded(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_ondatachannel(None);
        self.pc.set_ontrack(None);
    }
}

pub(crate) struct Inner {
    pc: RtcPeerConnection,
    /// This peer's session id, on every signal it sends.
    session: String,
    /// The remote session this peer locked onto (the first one seen).
    remote_session: Option<String>,
    /// `None`: decided per call, the side with the smaller session id is polite.
    polite: Option<bool>,
    making_offer: bool,
    /// Local candidate events (the end of candidates included) since the last offer made.
    offer_candidates: u32,
    ignore_offer: bool,
    answer_pending: bool,
    /// Remote candidates received before any remote description.
    queued_candidates: Vec<CandidateInit>,
    incoming: VecDeque<(Signal, Pending)>,
    processing: bool,
    listeners: Listeners,
    handlers: Option<Handlers>,
    channels: Vec<Rc<RefCell<ChannelInner>>>,
    /// The last connection state reported.
    state: String,
    /// `iceTransportPolicy: "relay"`: no relay candidate means no connection at all.
    relay_only: bool,
    /// The relay policy without any TURN server: reported as soon as gathering starts.
    relay_impossible: bool,
    /// Local candidates found since gathering last started.
    gathered: u32,
    /// What the ICE servers reported (`icecandidateerror`), for the ICE_FAILED message.
    candidate_errors: Vec<String>,
    /// An ICE_FAILED error was emitted for this gathering or connection attempt.
    ice_error_reported: bool,
    closed: bool,
    keep_alive: Option<Rc<RefCell<Inner>>>,
}

/// A WebRTC peer connection with perfect negotiation; see `RtcPeer` in the type definitions.
#[wasm_bindgen(skip_typescript)]
#[derive(Clone)]
pub struct RtcPeer {
    inner: Rc<RefCell<Inner>>,
}

/// Options of one data channel.
#[derive(Debug, Clone, Default)]
struct ChannelSpec {
    label: String,
    ordered: Option<bool>,
    max_retransmits: Option<u16>,
    max_packet_life_time: Option<u16>,
    protocol: Option<String>,
}

fn invalid(message: impl Into<String>) -> MqttError {
    error(ErrorCode::InvalidArgument, message)
}

fn closed_error() -> MqttError {
    error(ErrorCode::Closed, "the peer is closed")
}

fn u16_option(options: &JsValue, key: &'static str) -> Result<Option<u16>, MqttError> {
    let v = get(options, key);
    if is_absent(&v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => Ok(Some(n as u16)),
        _ => Err(invalid(format!("{key} must be an integer 0..65535"))),
    }
}

impl ChannelSpec {
    fn parse(label: &JsValue, options: &JsValue) -> Result<ChannelSpec, MqttError> {
        let label = label
            .as_string()
            .ok_or_else(|| invalid("a channel label must be a string"))?;
        if label.len() > 65535 {
            return Err(invalid("a channel label is at most 65535 bytes"));
        }
        if !is_absent(options) && !options.is_object() {
            return Err(invalid("channel options must be an object"));
        }
        let ordered = match get(options, "ordered") {
            v if is_absent(&v) => None,
            v => Some(
                v.as_bool()
                    .ok_or_else(|| invalid("ordered must be a boolean"))?,
            ),
        };
        let protocol = match get(options, "protocol") {
            v if is_absent(&v) => None,
            v => Some(
                v.as_string()
                    .ok_or_else(|| invalid("protocol must be a string"))?,
            ),
        };
        let spec = ChannelSpec {
            label,
            ordered,
            max_retransmits: u16_option(options, "maxRetransmits")?,
            max_packet_life_time: u16_option(options, "maxPacketLifeTime")?,
            protocol,
        };
        if spec.max_retransmits.is_some() && spec.max_packet_life_time.is_some() {
            return Err(invalid(
                "maxRetransmits and maxPacketLifeTime cannot both be set",
            ));
        }
        Ok(spec)
    }

    fn init(&self) -> JsValue {
        let o = Object::new();
        if let Some(v) = self.ordered {
            set(&o, "ordered", v);
        }
        if let Some(v) = self.max_retransmits {
            set(&o, "maxRetransmits", v);
        }
        if let Some(v) = self.max_packet_life_time {
            set(&o, "maxPacketLifeTime", v);
        }
        if let Some(v) = &self.protocol {
            set(&o, "protocol", v.as_str());
        }
        o.into()
    }
}

impl Inner {
    fn polite(&self) -> bool {
        self.polite.unwrap_or_else(|| {
            self.remote_session
                .as_deref()
                .is_some_and(|remote| self.session.as_str() < remote)
        })
    }

    /// The current local description as a signal, when it is an offer or an answer.
    fn local_signal(&self) -> Option<Signal> {
        let d = self.pc.local_description()?;
        let kind = match d.type_() {
            RtcSdpType::Offer => SdpKind::Offer,
            RtcSdpType::Answer => SdpKind::Answer,
            _ => return None,
        };
        Some(Signal::Description {
            kind,
            sdp: d.sdp(),
            session: self.session.clone(),
        })
    }

    fn add_channel(&mut self, spec: &ChannelSpec) -> Result<RtcChannel, MqttError> {
        if self.closed {
            return Err(closed_error());
        }
        let dc = sys::create_data_channel_checked(&self.pc, &spec.label, &spec.init())
            .map_err(|e| invalid(format!("cannot create the channel: {}", describe(&e))))?;
        let ch = RtcChannel::wrap(dc, self.pc.clone());
        self.keep_channel(ch.handle());
        Ok(ch)
    }

    fn keep_channel(&mut self, ch: Rc<RefCell<ChannelInner>>) {
        self.channels.retain(|c| !RtcChannel::is_closed(c));
        self.channels.push(ch);
    }

    fn sender_of(&self, track: &JsValue) -> Option<RtcRtpSender> {
        self.pc
            .get_senders()
            .iter()
            .filter_map(|s| s.dyn_into::<RtcRtpSender>().ok())
            .find(|s| s.track().is_some_and(|t| Object::is(&t, track)))
    }
}

/// Calls the listeners of `event` with no borrow held.
fn emit(rc: &Rc<RefCell<Inner>>, event: &str, args: &[JsValue]) {
    let mut deferred = Deferred::new();
    match borrow(rc) {
        Ok(inner) => deferred.emit(&inner.listeners, event, args),
        Err(e) => return report(&e),
    }
    deferred.run();
}

fn emit_error(rc: &Rc<RefCell<Inner>>, e: MqttError) {
    emit(rc, "error", &[e.into_js()]);
}

/// The peer, unless it is gone or closed (or busy: a `BUSY` error).
fn live(weak: &Weak<RefCell<Inner>>) -> Result<Rc<RefCell<Inner>>, MqttError> {
    let rc = weak.upgrade().ok_or_else(closed_error)?;
    if borrow(&rc)?.closed {
        return Err(closed_error());
    }
    Ok(rc)
}

/// `negotiationneeded`: make an offer and send it.
async fn negotiate(weak: Weak<RefCell<Inner>>) {
    let pc = {
        let Ok(rc) = live(&weak) else { return };
        let mut inner = match borrow(&rc) {
            Ok(inner) => inner,
            Err(e) => return report(&e),
        };
        // Only from a stable state: otherwise setLocalDescription() would make a second
        // answer; the browser fires negotiationneeded again once back in stable.
        if inner.pc.signaling_state() != RtcSignalingState::Stable {
            return;
        }
        inner.making_offer = true;
        inner.offer_candidates = 0;
        inner.pc.clone()
    };
    let result = JsFuture::from(sys::set_local_description_implicit(&pc)).await;
    let Some(rc) = weak.upgrade() else { return };
    let outcome = {
        let mut inner = match borrow(&rc) {
            Ok(inner) => inner,
            Err(e) => return report(&e),
        };
        inner.making_offer = false;
        if inner.closed {
            return;
        }
        result.map(|_| inner.local_signal()).map_err(|e| {
            error(
                ErrorCode::NegotiationFailed,
                format!("cannot make an offer: {}", describe(&e)),
            )
        })
    };
    match outcome {
        Ok(Some(signal)) => emit(&rc, "signal", &[signal.to_js()]),
        Ok(None) => {}
        Err(e) => emit_error(&rc, e),
    }
}

async fn add_candidate_now(pc: &RtcPeerConnection, c: &CandidateInit) -> Result<(), JsValue> {
    let promise = sys::add_ice_candidate_checked(pc, &c.to_js())?;
    JsFuture::from(promise).await.map(|_| ())
}

async fn flush_candidates(weak: &Weak<RefCell<Inner>>) -> Result<(), MqttError> {
    let (pc, queued) = {
        let rc = live(weak)?;
        let mut inner = borrow(&rc)?;
        (
            inner.pc.clone(),
            std::mem::take(&mut inner.queued_candidates),
        )
    };
    for c in &queued {
        // A candidate of an offer that was ignored or rolled back fails here; harmless.
        if let Err(e) = add_candidate_now(&pc, c).await {
            sys::console_debug(&format!(
                "[mqtt-rtc] queued candidate not added: {}",
                describe(&e)
            ));
        }
    }
    Ok(())
}

/// How long the polite side of a collision waits at most for its own offer to gather.
const SETTLE_MS: f64 = 1000.0;

/// Waits `ms` milliseconds; the timer is cleared if the wait is dropped early.
async fn sleep(ms: u32) {
    let (promise, pending) = Pending::new();
    let _timer = Timer::new(ms.into(), move || pending.resolve(&JsValue::UNDEFINED));
    // Cannot reject: only `resolve` is ever called.
    let _ = JsFuture::from(promise).await;
}

/// Before the polite side rolls its offer back: waits (at most `SETTLE_MS`) until that
/// offer is set and has gathered a first candidate. Chromium rolling back an offer whose
/// gathering has started but produced nothing yet leaves the connection unable to gather
/// ever again: the answer and every later ICE restart get no local candidate, and the
/// connection stays "new". Seen with both peers in one page (signals take no time), most
/// often in the first connection of a page, where gathering starts slower.
async fn settle_local_offer(weak: &Weak<RefCell<Inner>>) -> Result<(), MqttError> {
    let started = js_sys::Date::now();
    loop {
        let settled = {
            let rc = live(weak)?;
            let inner = borrow(&rc)?;
            let offering = inner.making_offer
                || inner.pc.signaling_state() == RtcSignalingState::HaveLocalOffer;
            !offering
                || (!inner.making_offer && inner.offer_candidates > 0)
                || get(&inner.pc, "iceGatheringState").as_string().as_deref() == Some("complete")
        };
        if settled || js_sys::Date::now() - started > SETTLE_MS {
            return Ok(());
        }
        sleep(5).await;
    }
}

async fn apply_description(
    weak: &Weak<RefCell<Inner>>,
    kind: SdpKind,
    sdp: String,
) -> Result<(), MqttError> {
    let (pc, collision) = {
        let rc = live(weak)?;
        let mut inner = borrow(&rc)?;
        let stable = inner.pc.signaling_state() == RtcSignalingState::Stable;
        let ready_for_offer = !inner.making_offer && (stable || inner.answer_pending);
        let collision = kind == SdpKind::Offer && !ready_for_offer;
        inner.ignore_offer = !inner.polite() && collision;
        if inner.ignore_offer {
            sys::console_debug("[mqtt-rtc] offer collision: ignoring the remote offer");
            return Ok(());
        }
        inner.answer_pending = kind == SdpKind::Answer;
        (inner.pc.clone(), collision)
    };
    if collision {
        settle_local_offer(weak).await?;
    }
    let init = RtcSessionDescriptionInit::new(match kind {
        SdpKind::Offer => RtcSdpType::Offer,
        SdpKind::Answer => RtcSdpType::Answer,
    });
    init.set_sdp(&sdp);
    // With an offer in have-local-offer (the polite side of a collision), this rolls the
    // local offer back implicitly.
    let result = JsFuture::from(pc.set_remote_description(&init)).await;
    let rc = live(weak)?;
    borrow(&rc)?.answer_pending = false;
    result.map_err(|e| {
        error(
            ErrorCode::NegotiationFailed,
            format!(
                "cannot apply the remote {}: {}",
                kind.as_str(),
                describe(&e)
            ),
        )
    })?;
    flush_candidates(weak).await?;
    if kind == SdpKind::Offer {
        answer(weak, &pc).await?;
    }
    Ok(())
}

/// After a remote offer is set: makes the answer and sends it.
async fn answer(weak: &Weak<RefCell<Inner>>, pc: &RtcPeerConnection) -> Result<(), MqttError> {
    let result = JsFuture::from(sys::set_local_description_implicit(pc)).await;
    let rc = live(weak)?;
    result.map_err(|e| {
        error(
            ErrorCode::NegotiationFailed,
            format!("cannot make an answer: {}", describe(&e)),
        )
    })?;
    let signal = borrow(&rc)?.local_signal();
    if let Some(signal) = signal {
        emit(&rc, "signal", &[signal.to_js()]);
    }
    Ok(())
}

async fn apply_candidate(
    weak: &Weak<RefCell<Inner>>,
    candidate: CandidateInit,
) -> Result<(), MqttError> {
    let (pc, ignoring) = {
        let rc = live(weak)?;
        let mut inner = borrow(&rc)?;
        if inner.pc.remote_description().is_none() {
            // A candidate of the offer this side ignored: kept, it would be added to the
            // answer that follows, and Firefox then never connects (its rolled-back
            // offer's candidates, and their end-of-candidates, are not the answer's).
            if !inner.ignore_offer {
                inner.queued_candidates.push(candidate);
            }
            return Ok(());
        }
        (inner.pc.clone(), inner.ignore_offer)
    };
    if let Err(e) = add_candidate_now(&pc, &candidate).await {
        // Candidates of an ignored offer, or of an ICE generation already replaced, are
        // expected to fail; so may end-of-candidates on some browsers.
        if !ignoring {
            sys::console_debug(&format!(
                "[mqtt-rtc] remote candidate not added: {}",
                describe(&e)
            ));
        }
    }
    Ok(())
}

/// Applies queued incoming signals one after another until the queue is empty.
async fn process_incoming(weak: Weak<RefCell<Inner>>) {
    loop {
        let next = {
            let Some(rc) = weak.upgrade() else { return };
            let mut inner = match borrow(&rc) {
                Ok(inner) => inner,
                // The queue stays marked as processing: a later signal cannot start a
                // second drain beside this one, whatever broke the rule.
                Err(e) => return report(&e),
            };
            match inner.incoming.pop_front() {
                Some(next) => next,
                None => {
                    inner.processing = false;
                    return;
                }
            }
        };
        let (signal, pending) = next;
        let result = match signal {
            Signal::Description { kind, sdp, .. } => apply_description(&weak, kind, sdp).await,
            Signal::Candidate { candidate, .. } => apply_candidate(&weak, candidate).await,
        };
        match result {
            Ok(()) => pending.resolve(&JsValue::UNDEFINED),
            Err(e) => {
                if let Ok(rc) = live(&weak) {
                    emit_error(&rc, e.clone());
                }
                pending.reject(e);
            }
        }
    }
}

fn on_state_change(weak: &Weak<RefCell<Inner>>) {
    let Ok(rc) = live(weak) else { return };
    let (state, connected, nothing_gathered) = {
        let mut inner = match borrow(&rc) {
            Ok(inner) => inner,
            Err(e) => return report(&e),
        };
        let state = get(&inner.pc, "connectionState")
            .as_string()
            .unwrap_or_default();
        if state == inner.state {
            return;
        }
        let was = std::mem::replace(&mut inner.state, state.clone());
        // The offering (impolite) side restarts ICE by itself; the other side follows
        // the new offer.
        if state == "failed" && !inner.polite() {
            sys::restart_ice(&inner.pc);
        }
        if state == "connected" {
            inner.candidate_errors.clear();
            inner.ice_error_reported = false;
        }
        // The same test as a hopeless gathering (on_gathering_change).
        let nothing_gathered =
            inner.gathered == 0 && (inner.relay_only || !inner.candidate_errors.is_empty());
        let connected = was != "connected" && inner.state == "connected";
        (state, connected, nothing_gathered)
    };
    emit(&rc, "state", &[JsValue::from_str(&state)]);
    if connected {
        emit(&rc, "connect", &[]);
    }
    // Chromium completes a gathering that found nothing before it fails the connection;
    // Firefox fails the connection first. Either way the cause is the gathering.
    if state == "failed" && nothing_gathered {
        report_ice_failure(&rc, "ICE gathering found no usable local candidate");
    } else if state == "failed" {
        report_ice_failure(&rc, "the connection failed: no candidate pair works");
    }
}

/// Emits one `ICE_FAILED` error per gathering or connection attempt, with what the ICE
/// servers reported, so a misconfigured TURN server is an error and never a silent hang.
fn report_ice_failure(rc: &Rc<RefCell<Inner>>, what: &str) {
    let message = {
        let mut inner = match borrow(rc) {
            Ok(inner) => inner,
            Err(e) => return report(&e),
        };
        if std::mem::replace(&mut inner.ice_error_reported, true) {
            return;
        }
        let policy = if inner.relay_only {
            " (iceTransportPolicy \"relay\": only TURN relay candidates may be used)"
        } else {
            ""
        };
        match inner.candidate_errors.is_empty() {
            true => format!("{what}{policy}"),
            false => format!("{what}{policy}; {}", inner.candidate_errors.join("; ")),
        }
    };
    emit_error(rc, error(ErrorCode::IceFailed, message));
}

/// How many distinct `icecandidateerror` reports are kept for the error message.
const MAX_CANDIDATE_ERRORS: usize = 8;

/// `icecandidateerror`: kept for the message of a later ICE failure. Not an error by
/// itself: another server or a host candidate may still connect.
fn on_candidate_error(weak: &Weak<RefCell<Inner>>, e: &JsValue) {
    let Ok(rc) = live(weak) else { return };
    let text = ice::candidate_error_text(e);
    sys::console_debug(&format!("[mqtt-rtc] ICE candidate error: {text}"));
    let mut inner = match borrow(&rc) {
        Ok(inner) => inner,
        Err(e) => return report(&e),
    };
    if !inner.candidate_errors.contains(&text)
        && inner.candidate_errors.len() < MAX_CANDIDATE_ERRORS
    {
        inner.candidate_errors.push(text);
    }
}

/// `icegatheringstatechange`: a gathering that ends with no local candidate, under the
/// relay policy or after a server reported an error, can never connect: an ICE_FAILED
/// error at once rather than a connection that stays "new" or "checking".
fn on_gathering_change(weak: &Weak<RefCell<Inner>>, _: &JsValue) {
    let Ok(rc) = live(weak) else { return };
    let hopeless = {
        let mut inner = match borrow(&rc) {
            Ok(inner) => inner,
            Err(e) => return report(&e),
        };
        match get(&inner.pc, "iceGatheringState").as_string().as_deref() {
            Some("gathering") => {
                inner.gathered = 0;
                inner.ice_error_reported = false;
                if inner.relay_impossible {
                    inner.candidate_errors = vec!["no TURN server is configured".into()];
                }
                inner.relay_impossible
            }
            Some("complete") => {
                inner.gathered == 0 && (inner.relay_only || !inner.candidate_errors.is_empty())
            }
            _ => false,
        }
    };
    if hopeless {
        report_ice_failure(&rc, "ICE gathering found no usable local candidate");
    }
}

fn close_peer(rc: &Rc<RefCell<Inner>>) -> Result<(), MqttError> {
    let mut deferred = Deferred::new();
    let (channels, buried) = {
        let mut inner = borrow(rc)?;
        if inner.closed {
            return Ok(());
        }
        inner.closed = true;
        inner.state = "closed".into();
        inner.queued_candidates.clear();
        let channels = std::mem::take(&mut inner.channels);
        for (_, pending) in inner.incoming.drain(..) {
            deferred.reject(pending, closed_error());
        }
        deferred.emit(&inner.listeners, "close", &[]);
        inner.listeners.clear();
        let handlers = inner.handlers.take();
        inner.pc.close();
        (channels, (handlers, inner.keep_alive.take()))
    };
    for ch in &channels {
        if let Err(e) = channel::shutdown(ch, true) {
            report(&e);
        }
    }
    bury(Box::new(buried));
    deferred.run();
    Ok(())
}

/// The entries of a `getStats()` report that the summary reads.
#[derive(Default)]
struct StatsEntries {
    pairs: VecMap<String, JsValue>,
    candidates: VecMap<String, JsValue>,
    selected_id: Option<String>,
    transport: Option<JsValue>,
    /// Packets lost, summed over received media streams.
    lost: f64,
    /// Packets sent and received, summed over the media streams: Firefox's candidate
    /// pairs and transports count no packets (Chromium's do), so there these are used.
    rtp_sent: f64,
    rtp_received: f64,
    /// Bytes sent and received, summed over the data channels and media streams: a lower
    /// bound of the connection's. Firefox's selected pair starts from 0 after an ICE
    /// restart (and its bytesSent may stay there), and it has no transport totals.
    payload_sent: f64,
    payload_received: f64,
}

impl StatsEntries {
    fn read(report: &JsValue) -> StatsEntries {
        let mut s = StatsEntries::default();
        for entry in Array::from(report).iter() {
            let v = Array::from(&entry).get(1);
            let id = get(&v, "id").as_string().unwrap_or_default();
            match get(&v, "type").as_string().as_deref() {
                Some("candidate-pair") => {
                    s.pairs.insert(id, v);
                }
                Some("local-candidate") | Some("remote-candidate") => {
                    s.candidates.insert(id, v);
                }
                Some("transport") => {
                    if let Some(id) = get(&v, "selectedCandidatePairId").as_string() {
                        s.selected_id = Some(id);
                    }
                    s.transport = Some(v);
                }
                Some("inbound-rtp") => {
                    s.lost += get(&v, "packetsLost").as_f64().unwrap_or(0.0);
                    s.rtp_received += get(&v, "packetsReceived").as_f64().unwrap_or(0.0);
                    s.payload_received += get(&v, "bytesReceived").as_f64().unwrap_or(0.0);
                }
                Some("outbound-rtp") => {
                    s.rtp_sent += get(&v, "packetsSent").as_f64().unwrap_or(0.0);
                    s.payload_sent += get(&v, "bytesSent").as_f64().unwrap_or(0.0);
                }
                Some("data-channel") => {
                    s.payload_sent += get(&v, "bytesSent").as_f64().unwrap_or(0.0);
                    s.payload_received += get(&v, "bytesReceived").as_f64().unwrap_or(0.0);
                }
                _ => {}
            }
        }
        s
    }

    /// The selected candidate pair: the transport's, else a nominated succeeded one.
    fn selected_pair(&self) -> Option<JsValue> {
        self.selected_id
            .as_ref()
            .and_then(|id| self.pairs.get(id).cloned())
            .or_else(|| {
                self.pairs
                    .values()
                    .find(|p| {
                        get(p, "nominated").as_bool() == Some(true)
                            && get(p, "state").as_string().as_deref() == Some("succeeded")
                    })
                    .cloned()
            })
    }

    /// `CandidateInfo` of the candidate that `pair[key]` names.
    fn candidate_info(&self, pair: &JsValue, key: &'static str) -> Option<JsValue> {
        let c = self.candidates.get(&get(pair, key).as_string()?)?;
        let out = Object::new();
        for (from, to) in [
            ("candidateType", "type"),
            ("address", "address"),
            ("port", "port"),
            ("protocol", "protocol"),
        ] {
            let v = get(c, from);
            if !is_absent(&v) {
                set(&out, to, v);
            }
        }
        Some(out.into())
    }
}

/// The `PeerStats` summary of a `getStats()` report.
fn peer_stats(report: &JsValue) -> JsValue {
    let entries = StatsEntries::read(report);
    let pair = entries.selected_pair();
    let field = |key: &'static str| -> Option<f64> {
        pair.as_ref()
            .and_then(|p| get(p, key).as_f64())
            .or_else(|| {
                entries
                    .transport
                    .as_ref()
                    .and_then(|t| get(t, key).as_f64())
            })
    };
    let number = |key: &'static str| field(key).unwrap_or(0.0);
    let o = Object::new();
    set(
        &o,
        "bytesSent",
        number("bytesSent").max(entries.payload_sent),
    );
    set(
        &o,
        "bytesReceived",
        number("bytesReceived").max(entries.payload_received),
    );
    set(
        &o,
        "packetsSent",
        field("packetsSent").unwrap_or(entries.rtp_sent),
    );
    set(
        &o,
        "packetsReceived",
        field("packetsReceived").unwrap_or(entries.rtp_received),
    );
    set(&o, "packetsLost", entries.lost);
    let Some(p) = &pair else { return o.into() };
    if let Some(rtt) = get(p, "currentRoundTripTime").as_f64() {
        set(&o, "rtt", rtt * 1000.0);
    }
    let local = entries.candidate_info(p, "localCandidateId");
    let remote = entries.candidate_info(p, "remoteCandidateId");
    if let (Some(local), Some(remote)) = (local, remote) {
        set(&o, "localCandidateType", get(&local, "type"));
        set(&o, "remoteCandidateType", get(&remote, "type"));
        let selected = Object::new();
        set(&selected, "local", local);
        set(&selected, "remote", remote);
        set(&o, "selectedPair", selected);
    }
    o.into()
}

/// `RtcPeerOptions`, read and checked before anything is created.
struct PeerOptions {
    ice: IceConfig,
    polite: Option<bool>,
    stream: Option<MediaStream>,
    channels: Vec<ChannelSpec>,
}

impl PeerOptions {
    fn parse(options: &JsValue) -> Result<PeerOptions, MqttError> {
        if !is_absent(options) && !options.is_object() {
            return Err(invalid("options must be an object"));
        }
        let ice = IceConfig::parse(options)?;
        let polite = match get(options, "polite") {
            v if is_absent(&v) => None,
            v => Some(
                v.as_bool()
                    .ok_or_else(|| invalid("polite must be a boolean"))?,
            ),
        };
        let stream = match get(options, "stream") {
            v if is_absent(&v) => None,
            v => Some(
                v.dyn_into::<MediaStream>()
                    .map_err(|_| invalid("stream must be a MediaStream"))?,
            ),
        };
        Ok(PeerOptions {
            ice,
            polite,
            stream,
            channels: channel_specs(&get(options, "channels"))?,
        })
    }
}

/// Checks `RtcPeerOptions` whose `iceServers` may still be a function (not called here),
/// as `SignalingOptions.peer` is: every other key is checked as the constructor does.
pub(crate) fn check_options(options: &JsValue) -> Result<(), MqttError> {
    if !is_absent(options) && !options.is_object() {
        return Err(invalid("peer options must be an object"));
    }
    if !get(options, "iceServers").is_function() {
        return PeerOptions::parse(options).map(|_| ());
    }
    let copy = Object::assign(&Object::new(), options.unchecked_ref());
    set(&copy, "iceServers", JsValue::UNDEFINED);
    PeerOptions::parse(&copy.into()).map(|_| ())
}

/// The `channels` option: label strings or options objects with a label.
fn channel_specs(channels: &JsValue) -> Result<Vec<ChannelSpec>, MqttError> {
    if is_absent(channels) {
        return Ok(Vec::new());
    }
    if !Array::is_array(channels) {
        return Err(invalid("channels must be an array"));
    }
    Array::from(channels)
        .iter()
        .map(|c| {
            if c.is_string() {
                ChannelSpec::parse(&c, &JsValue::UNDEFINED)
            } else {
                ChannelSpec::parse(&get(&c, "label"), &c)
            }
        })
        .collect()
}

fn new_connection(ice: &IceConfig) -> Result<RtcPeerConnection, MqttError> {
    RtcPeerConnection::new_with_configuration(ice.to_js().unchecked_ref())
        .map_err(|e| invalid(format!("cannot create the connection: {}", describe(&e))))
}

impl Inner {
    fn new(pc: RtcPeerConnection, polite: Option<bool>, ice: &IceConfig) -> Inner {
        Inner {
            pc,
            session: random_id(),
            remote_session: None,
            polite,
            relay_only: ice.relay_only(),
            relay_impossible: ice.relay_impossible(),
            gathered: 0,
            candidate_errors: Vec::new(),
            ice_error_reported: false,
            making_offer: false,
            offer_candidates: 0,
            ignore_offer: false,
            answer_pending: false,
            queued_candidates: Vec::new(),
            incoming: VecDeque::new(),
            processing: false,
            listeners: Listeners::default(),
            handlers: None,
            channels: Vec::new(),
            state: "new".into(),
            closed: false,
            keep_alive: None,
        }
    }
}

/// `icecandidate`: a local candidate (or the end of them) to send.
fn on_local_candidate(weak: &Weak<RefCell<Inner>>, e: &RtcPeerConnectionIceEvent) {
    let Ok(rc) = live(weak) else { return };
    let candidate = match e.candidate() {
        Some(c) => CandidateInit {
            candidate: c.candidate(),
            sdp_mid: c.sdp_mid(),
            sdp_m_line_index: c.sdp_m_line_index(),
            username_fragment: get(&c, "usernameFragment").as_string(),
        },
        // End of candidates: sent as an empty candidate line.
        None => CandidateInit::default(),
    };
    // Firefox ends each gathering with a candidate whose line is "" (the standard's
    // end-of-candidates marker) before the null event: that is no candidate found.
    let found = e.candidate().is_some_and(|c| !c.candidate().is_empty());
    let session = match borrow(&rc) {
        Ok(mut inner) => {
            inner.offer_candidates += 1;
            inner.gathered += u32::from(found);
            inner.session.clone()
        }
        Err(e) => return report(&e),
    };
    let signal = Signal::Candidate { candidate, session };
    emit(&rc, "signal", &[signal.to_js()]);
}

/// `datachannel`: a channel the remote side created.
fn on_remote_channel(weak: &Weak<RefCell<Inner>>, e: &RtcDataChannelEvent) {
    let dc = e.channel();
    let Ok(rc) = live(weak) else {
        dc.close();
        return;
    };
    let ch = match borrow(&rc) {
        Ok(mut inner) => {
            let ch = RtcChannel::wrap(dc, inner.pc.clone());
            inner.keep_channel(ch.handle());
            ch
        }
        Err(e) => {
            dc.close();
            return report(&e);
        }
    };
    emit(&rc, "channel", &[ch.into()]);
}

/// `track`: a remote track, with its stream (or a stream made for it).
fn on_track(weak: &Weak<RefCell<Inner>>, e: &RtcTrackEvent) {
    let Ok(rc) = live(weak) else { return };
    let track = e.track();
    let stream = e
        .streams()
        .get(0)
        .dyn_into::<MediaStream>()
        .or_else(|_| MediaStream::new_with_tracks(&Array::of1(&track)));
    let stream = stream.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
    emit(&rc, "track", &[track.into(), stream]);
}

/// Sets the connection's handlers, each holding a weak reference to the peer.
fn install_handlers(
    rc: &Rc<RefCell<Inner>>,
    pc: &RtcPeerConnection,
) -> Result<Handlers, MqttError> {
    let weak = Rc::downgrade(rc);
    let listen = |event: &'static str, f: fn(&Weak<RefCell<Inner>>, &JsValue)| {
        let w = weak.clone();
        EventListener::new(pc, event, move |e: web_sys::Event| f(&w, &e))
            .map_err(|e| invalid(format!("cannot listen to {event}: {}", describe(&e))))
    };
    let candidate_error = listen("icecandidateerror", on_candidate_error)?;
    let gathering = listen("icegatheringstatechange", on_gathering_change)?;
    let w = weak.clone();
    let negotiation = Closure::<dyn FnMut()>::new(move || {
        wasm_bindgen_futures::spawn_local(negotiate(w.clone()));
    });
    let w = weak.clone();
    let candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
        move |e: RtcPeerConnectionIceEvent| on_local_candidate(&w, &e),
    );
    let w = weak.clone();
    let state = Closure::<dyn FnMut()>::new(move || on_state_change(&w));
    let w = weak.clone();
    let channel = Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |e: RtcDataChannelEvent| {
        on_remote_channel(&w, &e)
    });
    let track =
        Closure::<dyn FnMut(RtcTrackEvent)>::new(move |e: RtcTrackEvent| on_track(&weak, &e));
    pc.set_onnegotiationneeded(Some(negotiation.as_ref().unchecked_ref()));
    pc.set_onicecandidate(Some(candidate.as_ref().unchecked_ref()));
    pc.set_onconnectionstatechange(Some(state.as_ref().unchecked_ref()));
    pc.set_ondatachannel(Some(channel.as_ref().unchecked_ref()));
    pc.set_ontrack(Some(track.as_ref().unchecked_ref()));
    Ok(Handlers {
        pc: pc.clone(),
        _negotiation: negotiation,
        _candidate: candidate,
        _state: state,
        _channel: channel,
        _track: track,
        _candidate_error: candidate_error,
        _gathering: gathering,
    })
}

/// Keeps the peer alive, then adds the initial tracks and channels of the options.
fn start(
    rc: &Rc<RefCell<Inner>>,
    handlers: Handlers,
    options: &PeerOptions,
) -> Result<(), MqttError> {
    let mut inner = borrow(rc)?;
    inner.handlers = Some(handlers);
    inner.keep_alive = Some(rc.clone());
    if let Some(stream) = &options.stream {
        for t in stream.get_tracks().iter() {
            let t: MediaStreamTrack = t.unchecked_into();
            sys::add_track_checked(&inner.pc, &t, stream)
                .map_err(|e| invalid(format!("cannot add a track: {}", describe(&e))))?;
        }
    }
    for spec in &options.channels {
        inner.add_channel(spec)?;
    }
    Ok(())
}

impl RtcPeer {
    /// Creates a peer from `RtcPeerOptions` (for Rust callers such as the signaling layer).
    pub fn create(options: &JsValue) -> Result<RtcPeer, MqttError> {
        console_error_panic_hook::set_once();
        let options = PeerOptions::parse(options)?;
        let pc = new_connection(&options.ice)?;
        let rc = Rc::new(RefCell::new(Inner::new(
            pc.clone(),
            options.polite,
            &options.ice,
        )));
        let started = install_handlers(&rc, &pc).and_then(|h| start(&rc, h, &options));
        if let Err(e) = started {
            // The close of a half-started peer cannot meet a busy state: nothing else
            // holds it yet.
            let _ = close_peer(&rc);
            return Err(e);
        }
        Ok(RtcPeer { inner: rc })
    }

    /// This peer's session id (sent with every signal).
    pub fn session_id(&self) -> Result<String, JsValue> {
        read(&self.inner, |i| i.session.clone())
    }

    /// Ends the peer with an error: emits `e` as an `error` event, then closes it.
    pub(crate) fn fail(&self, e: MqttError) -> Result<(), JsValue> {
        if !self.is_closed() {
            emit_error(&self.inner, e);
        }
        close_peer(&self.inner).map_err(MqttError::into_js)
    }

    /// Whether `close()` ran (a busy peer counts as open: it is in use).
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.try_borrow().is_ok_and(|i| i.closed)
    }

    /// Feeds a typed signal from the remote side (already read and validated); the promise
    /// settles once it is applied, in order with the others.
    pub(crate) fn accept(&self, signal: Signal) -> Promise {
        let (promise, pending) = Pending::new();
        let start = {
            let mut inner = match borrow(&self.inner) {
                Ok(inner) => inner,
                Err(e) => return rejected(e),
            };
            if inner.closed {
                return rejected(closed_error());
            }
            let session = signal.session();
            if session == inner.session {
                // Our own signal echoed back (a shared topic): not for us.
                return Promise::resolve(&JsValue::UNDEFINED);
            }
            match &inner.remote_session {
                Some(remote) if remote != session => {
                    sys::console_debug("[mqtt-rtc] dropping a signal of another session");
                    return Promise::resolve(&JsValue::UNDEFINED);
                }
                Some(_) => {}
                None => inner.remote_session = Some(session.to_owned()),
            }
            inner.incoming.push_back((signal, pending));
            !std::mem::replace(&mut inner.processing, true)
        };
        if start {
            wasm_bindgen_futures::spawn_local(process_incoming(Rc::downgrade(&self.inner)));
        }
        promise
    }
}

#[wasm_bindgen(js_class = RtcPeer)]
impl RtcPeer {
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<RtcPeer, JsValue> {
        RtcPeer::create(&options).map_err(MqttError::into_js)
    }

    /// Like the constructor, but first calls an `iceServers` function (short-lived TURN
    /// credentials) and waits for its result.
    #[wasm_bindgen(js_name = create)]
    pub fn create_resolved(options: JsValue) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let options = ice::resolve(&options).await.map_err(MqttError::into_js)?;
            RtcPeer::create(&options)
                .map(JsValue::from)
                .map_err(MqttError::into_js)
        })
    }

    /// Feeds a signal from the remote side; rejects (and emits "error") when it is
    /// malformed or cannot be applied. Signals of another session are ignored.
    pub fn signal(&self, message: JsValue) -> Promise {
        match Signal::parse(&message) {
            Ok(signal) => self.accept(signal),
            Err(e) => {
                emit_error(&self.inner, e.clone());
                rejected(e)
            }
        }
    }

    /// Creates a data channel (negotiated in-band; the remote side gets a "channel" event).
    #[wasm_bindgen(js_name = createChannel)]
    pub fn create_channel(&self, label: JsValue, options: JsValue) -> Result<RtcChannel, JsValue> {
        let spec = ChannelSpec::parse(&label, &options).map_err(MqttError::into_js)?;
        borrow(&self.inner)
            .and_then(|mut inner| inner.add_channel(&spec))
            .map_err(MqttError::into_js)
    }

    /// The data channels of this peer that are not closed (created here or remotely).
    pub fn channels(&self) -> Result<Array, JsValue> {
        let mut inner = borrow(&self.inner).map_err(MqttError::into_js)?;
        inner.channels.retain(|c| !RtcChannel::is_closed(c));
        Ok(inner
            .channels
            .iter()
            .map(|c| JsValue::from(RtcChannel::from_handle(c.clone())))
            .collect())
    }

    /// Sends `track` (renegotiates).
    #[wasm_bindgen(js_name = addTrack)]
    pub fn add_track(&self, track: JsValue, stream: JsValue) -> Result<(), JsValue> {
        let result = (|| {
            let track = track
                .dyn_into::<MediaStreamTrack>()
                .map_err(|_| invalid("track must be a MediaStreamTrack"))?;
            let stream = stream
                .dyn_into::<MediaStream>()
                .map_err(|_| invalid("stream must be a MediaStream"))?;
            let inner = borrow(&self.inner)?;
            if inner.closed {
                return Err(closed_error());
            }
            sys::add_track_checked(&inner.pc, &track, &stream)
                .map(|_| ())
                .map_err(|e| invalid(format!("cannot add the track: {}", describe(&e))))
        })();
        result.map_err(MqttError::into_js)
    }

    /// Stops sending `track` (renegotiates).
    #[wasm_bindgen(js_name = removeTrack)]
    pub fn remove_track(&self, track: JsValue) -> Result<(), JsValue> {
        let result = (|| {
            let inner = borrow(&self.inner)?;
            if inner.closed {
                return Err(closed_error());
            }
            let sender = inner
                .sender_of(&track)
                .ok_or_else(|| invalid("this track is not being sent"))?;
            sys::remove_track_checked(&inner.pc, &sender)
                .map_err(|e| invalid(format!("cannot remove the track: {}", describe(&e))))
        })();
        result.map_err(MqttError::into_js)
    }

    /// Sends `next` (or nothing, when null) in place of `old`, without renegotiating.
    #[wasm_bindgen(js_name = replaceTrack)]
    pub fn replace_track(&self, old: JsValue, next: JsValue) -> Promise {
        let inner = match borrow(&self.inner) {
            Ok(inner) => inner,
            Err(e) => return rejected(e),
        };
        if inner.closed {
            return rejected(closed_error());
        }
        if !is_absent(&next) && !next.is_instance_of::<MediaStreamTrack>() {
            return rejected(invalid("next must be a MediaStreamTrack or null"));
        }
        let Some(sender) = inner.sender_of(&old) else {
            return rejected(invalid("this track is not being sent"));
        };
        let next = if is_absent(&next) {
            JsValue::NULL
        } else {
            next
        };
        match sys::replace_track_checked(&sender, &next) {
            Ok(p) => p,
            Err(e) => rejected(invalid(format!(
                "cannot replace the track: {}",
                describe(&e)
            ))),
        }
    }

    /// Restarts ICE (new candidates, same session and channels).
    #[wasm_bindgen(js_name = restartIce)]
    pub fn restart_ice(&self) -> Result<(), JsValue> {
        let inner = borrow(&self.inner).map_err(MqttError::into_js)?;
        if !inner.closed {
            sys::restart_ice(&inner.pc);
        }
        Ok(())
    }

    /// A summary of `getStats()`: rtt (ms), bytes, packets, the selected candidate pair.
    pub fn stats(&self) -> Promise {
        let pc = {
            let inner = match borrow(&self.inner) {
                Ok(inner) => inner,
                Err(e) => return rejected(e),
            };
            if inner.closed {
                return rejected(closed_error());
            }
            inner.pc.clone()
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let report = JsFuture::from(pc.get_stats()).await.map_err(|e| {
                error(
                    ErrorCode::StatsFailed,
                    format!("getStats failed: {}", describe(&e)),
                )
                .into_js()
            })?;
            Ok(peer_stats(&report))
        })
    }

    /// Closes channels and the connection, removes every listener; emits "close" once.
    pub fn close(&self) -> Result<(), JsValue> {
        close_peer(&self.inner).map_err(MqttError::into_js)
    }

    #[wasm_bindgen(getter, js_name = connectionState)]
    pub fn connection_state(&self) -> Result<String, JsValue> {
        read(&self.inner, |i| {
            if i.closed {
                return "closed".into();
            }
            get(&i.pc, "connectionState")
                .as_string()
                .unwrap_or_else(|| "new".into())
        })
    }

    #[wasm_bindgen(getter)]
    pub fn session(&self) -> Result<String, JsValue> {
        self.session_id()
    }

    /// The remote session this peer accepts signals from, once one was seen.
    #[wasm_bindgen(getter, js_name = remoteSession)]
    pub fn remote_session(&self) -> Result<Option<String>, JsValue> {
        read(&self.inner, |i| i.remote_session.clone())
    }

    /// Whether this side is the polite one (rolls back on an offer collision).
    #[wasm_bindgen(getter)]
    pub fn polite(&self) -> Result<bool, JsValue> {
        read(&self.inner, Inner::polite)
    }

    pub fn on(&self, event: String, listener: Function) -> Result<RtcPeer, JsValue> {
        let mut inner = borrow(&self.inner).map_err(MqttError::into_js)?;
        if !inner.closed {
            inner.listeners.add(event, listener);
        }
        Ok(self.clone())
    }

    pub fn off(&self, event: String, listener: Function) -> Result<RtcPeer, JsValue> {
        borrow(&self.inner)
            .map_err(MqttError::into_js)?
            .listeners
            .remove(&event, &listener);
        Ok(self.clone())
    }
}
