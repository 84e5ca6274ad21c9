//! The native camera: a device that dashboards call over the library's signaling protocol
//! (`crate::signal`) and that answers with a native WebRTC stack (str0m, sans-IO, driven
//! from this thread with one UDP socket on 127.0.0.1). It announces itself in the room
//! `cameras` exactly like a browser `MqttSignaling` peer (retained presence with a
//! heartbeat, an empty retained Will), and routes signals to calls with the browser's own
//! state machine (`mqtt_rtc::rtc_core::room`). It answers the caller's offer, and on each
//! data channel the caller opens it streams its telemetry as JSON once an interval and runs
//! JSON commands, replying on the channel; messages use the chunk framing of `RtcChannel`
//! (`mqtt_rtc::rtc_core::chunk`). Once connected it offers a video track itself (glare as
//! in perfect negotiation: the polite side is `own id < remote id`) and sends a generated
//! test picture as H.264 (`crate::h264`). It must never send UDP anywhere but where ICE
//! points (a loopback-bound socket), and never let a remote peer's input panic the thread.
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mqtt_rtc::mqtt::backoff::SplitMix64;
use mqtt_rtc::mqtt::codec::{Properties, ProtocolVersion, Publish, QoS, SubscribeFilter, Will};
use mqtt_rtc::mqtt::session::{Event, Millis, QueueConfig, Session, SessionConfig, State, Token};
use mqtt_rtc::rtc_core::chunk::{self, Reassembler};
use mqtt_rtc::rtc_core::room::{Output as RoomOutput, Room};
use mqtt_rtc::rtc_core::signal::{SdpKind, Signal};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, Input, Output, Rtc};

use crate::device::{Device, Kind};
use crate::h264;
use crate::json::{self, Json};
use crate::link::Link;
use crate::signal::{
    envelope_json, inbox_topic, parse_envelope, presence_json, presence_topic, reject_json,
    DEFAULT_PREFIX, ROOM,
};
use crate::{message, Options, POLL_MS, STOP, STOP_ACK_MS};

/// Viewers at a time; one more offer from a new peer is dropped.
const MAX_CALLS: usize = 4;
/// Largest command message reassembled from a channel.
const MAX_COMMAND_BYTES: usize = 1024 * 1024;
/// Payload bytes per chunk: with its header, 16 KiB, which every browser's SCTP takes.
const CHUNK_BODY: usize = 16 * 1024 - 1;
/// Longest the thread waits on UDP before looking at MQTT again.
const UDP_SLICE: Duration = Duration::from_millis(10);
/// UDP datagrams read in one go before MQTT gets a turn.
const UDP_BURST: usize = 64;
/// The video: QCIF (176×144) at 10 frames a second, about 38 KiB a frame (raw samples).
const VIDEO_WIDTH: usize = 176;
const VIDEO_HEIGHT: usize = 144;
const FRAME_MS: u64 = 100;

/// Where the video of a call stands.
enum Video {
    /// Not connected yet.
    None,
    /// Connected: the camera offers its track at the next turn of the loop.
    Wanted,
    /// The offer is out; the answer completes it.
    Offered { mid: Mid, pending: SdpPendingOffer },
    /// Negotiated: frames go out with this payload type.
    Sending { mid: Mid, pt: Pt },
    /// The caller takes no H.264 (or the offer failed): data only.
    Refused,
}

/// The camera's handle of a call, the room's peer handle `P`: calls are numbered in the
/// order they open.
type CallId = u64;

/// One call: a str0m peer connection and its open data channels.
struct Call {
    /// The caller's peer id.
    remote: String,
    /// This side's perfect-negotiation role, as the room computed it.
    polite: bool,
    rtc: Rtc,
    /// This side's session id, on every signal it sends in this call.
    local_session: String,
    channels: Vec<(ChannelId, Reassembler)>,
    /// When str0m wants `Input::Timeout` next.
    next_timeout: Instant,
    video: Video,
    /// ICE gave up, str0m failed, or the peer closed.
    over: bool,
}

struct Camera {
    device: Device,
    id: String,
    since_ms: u64,
    interval_ms: u64,
    socket: UdpSocket,
    local: SocketAddr,
    /// Presence heartbeats and which call a signal belongs to. The camera reads no
    /// presence (it never calls anyone), so the meta type is `()`.
    room: Room<(), CallId>,
    calls: BTreeMap<CallId, Call>,
    next_call: CallId,
    sessions: SplitMix64,
    seq: u64,
    /// When the next video frame is due, and the clock of the video's media time.
    next_frame: Instant,
    video_epoch: Instant,
    frames: u32,
    /// The presence-clearing publish of a stopping camera, until the broker acknowledges it.
    leaving: Option<Token>,
    buf: Vec<u8>,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The presence meta dashboards see: `kind` camera marks it as one to watch.
fn meta(name: &str) -> [(&'static str, &str); 3] {
    [("kind", "camera"), ("native", "true"), ("name", name)]
}

impl Camera {
    fn presence_topic(&self) -> String {
        presence_topic(DEFAULT_PREFIX, ROOM, &self.id)
    }

    fn publish(&self, session: &mut Session, now: Millis, publish: Publish) -> Option<Token> {
        match session.publish(now, publish) {
            Ok(token) => Some(token),
            Err(e) => {
                note!("{}: publish failed: {e}", self.id);
                None
            }
        }
    }

    fn announce(&mut self, session: &mut Session, now: Millis) {
        let name = self.device.name();
        let body = presence_json(&self.id, &meta(&name), self.since_ms, epoch_ms());
        let topic = self.presence_topic();
        let json = crate::json_properties();
        self.publish(
            session,
            now,
            message(topic, body, QoS::AtLeastOnce, true, json),
        );
    }

    fn on_event(&mut self, session: &mut Session, now: Millis, event: Event) {
        crate::note_event(&self.id, &event);
        match event {
            Event::Connected { .. } => {
                self.announce(session, now);
                out!(
                    "online {} {} {}",
                    self.id,
                    self.presence_topic(),
                    self.device.name()
                );
            }
            Event::Message(msg) => self.on_signal(session, now, &msg.payload),
            Event::PublishDone { token, .. } if self.leaving == Some(token) => {
                self.leaving = None;
            }
            _ => {}
        }
    }

    /// An inbox message: a signal from a dashboard, routed by the room.
    fn on_signal(&mut self, session: &mut Session, now: Millis, payload: &[u8]) {
        self.room.handle_inbox(parse_envelope(payload));
        self.run_room(session, now);
    }

    /// Acts on the room's outputs, in order, until there are none.
    fn run_room(&mut self, session: &mut Session, now: Millis) {
        while let Some(output) = self.room.poll() {
            match output {
                // A heartbeat while offline is skipped: connecting announces anyway.
                RoomOutput::Announce if session.state() == State::Connected => {
                    self.announce(session, now)
                }
                RoomOutput::Announce => {}
                RoomOutput::CreatePeer {
                    remote,
                    polite,
                    signal,
                } => self.answer_call(session, now, remote, polite, signal),
                RoomOutput::Deliver { peer, signal } => self.deliver(session, now, peer, signal),
                RoomOutput::ClosePeer(id) => {
                    if let Some(mut call) = self.calls.remove(&id) {
                        close_call(&mut call, &self.socket);
                        note!("{}: call with {} closed", self.id, call.remote);
                    }
                }
                RoomOutput::Dropped { from, reason } => {
                    note!("{}: signal of {from} dropped: {reason:?}", self.id)
                }
                RoomOutput::Invalid(e) => note!("{}: invalid signal: {e}", self.id),
                // The camera subscribes to no presence: nobody joins or leaves its roster.
                RoomOutput::PeerJoined(_) | RoomOutput::PeerLeft(_) => {}
            }
        }
    }

    /// An offer from `remote` with no call (or a call it replaced): answer it, unless the
    /// camera has as many calls as it takes or cannot take this offer: then the call is
    /// refused, so the caller hears of it at once.
    fn answer_call(
        &mut self,
        session: &mut Session,
        now: Millis,
        remote: String,
        polite: bool,
        offer: Signal,
    ) {
        let Signal::Description {
            sdp,
            session: remote_session,
            ..
        } = offer
        else {
            return; // the room opens calls with offers only
        };
        if self.calls.len() >= MAX_CALLS {
            note!("{}: offer of {remote} refused: busy", self.id);
            return self.refuse(session, now, &remote, &remote_session);
        }
        let local_session = format!("{}-{:016x}", self.id, self.sessions.next_u64());
        let opened = self.open_call(&sdp, local_session.clone(), remote.clone(), polite);
        let (call, answer) = match opened {
            Ok(c) => c,
            Err(e) => {
                note!("{}: cannot answer {remote}: {e}", self.id);
                return self.refuse(session, now, &remote, &remote_session);
            }
        };
        let answer = Signal::Description {
            kind: SdpKind::Answer,
            sdp: answer,
            session: local_session.clone(),
        };
        self.send_signal(session, now, &remote, &answer);
        let id = self.next_call;
        self.next_call += 1;
        self.calls.insert(id, call);
        self.room
            .call_created(&remote, id, local_session, Some(remote_session));
        note!("{}: call from {remote} (polite: {polite})", self.id);
    }

    /// Tells the room and the caller that the call of `remote_session` will not be answered.
    fn refuse(&mut self, session: &mut Session, now: Millis, remote: &str, remote_session: &str) {
        if self.room.call_refused(remote, remote_session) {
            let topic = inbox_topic(DEFAULT_PREFIX, ROOM, remote);
            let body = reject_json(&self.id, remote_session);
            self.publish(
                session,
                now,
                message(topic, body, QoS::AtLeastOnce, false, Properties::default()),
            );
        }
    }

    /// Publishes one signal of a call to `remote`'s inbox.
    fn send_signal(&self, session: &mut Session, now: Millis, remote: &str, signal: &Signal) {
        let topic = inbox_topic(DEFAULT_PREFIX, ROOM, remote);
        let body = envelope_json(&self.id, signal);
        self.publish(
            session,
            now,
            message(topic, body, QoS::AtLeastOnce, false, Properties::default()),
        );
    }

    /// A new peer connection answering `offer_sdp`, with the host candidate of the UDP
    /// socket (in the answer: the browser needs no trickled candidate from this side).
    fn open_call(
        &mut self,
        offer_sdp: &str,
        local_session: String,
        remote: String,
        polite: bool,
    ) -> Result<(Call, String), String> {
        let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| e.to_string())?;
        let mut rtc = Rtc::new(Instant::now());
        let host = Candidate::host(self.local, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(host);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        let mut call = Call {
            remote,
            polite,
            rtc,
            local_session,
            channels: Vec::new(),
            next_timeout: Instant::now(),
            video: Video::None,
            over: false,
        };
        drive(
            &mut call,
            &self.socket,
            &mut self.device,
            &self.id,
            self.seq,
        );
        Ok((call, answer.to_sdp_string()))
    }

    /// A signal of an existing call: a renegotiating offer or a remote candidate.
    fn deliver(&mut self, session: &mut Session, now: Millis, id: CallId, signal: Signal) {
        let Some(call) = self.calls.get_mut(&id) else {
            return; // closed by an earlier output of the same turn
        };
        let from = call.remote.clone();
        match signal {
            Signal::Description {
                kind: SdpKind::Offer,
                sdp,
                ..
            } => {
                if matches!(call.video, Video::Offered { .. }) {
                    // Glare: both sides offered. The impolite side ignores the other's
                    // offer; the polite one drops its own and answers (and offers again).
                    if !call.polite {
                        return note!("{}: offer collision with {from}: ignored", self.id);
                    }
                    call.video = Video::Wanted;
                }
                let answer = SdpOffer::from_sdp_string(&sdp)
                    .map_err(|e| e.to_string())
                    .and_then(|o| {
                        call.rtc
                            .sdp_api()
                            .accept_offer(o)
                            .map_err(|e| e.to_string())
                    });
                let local_session = call.local_session.clone();
                drive(call, &self.socket, &mut self.device, &self.id, self.seq);
                match answer {
                    Ok(a) => {
                        let answer = Signal::Description {
                            kind: SdpKind::Answer,
                            sdp: a.to_sdp_string(),
                            session: local_session,
                        };
                        self.send_signal(session, now, &from, &answer)
                    }
                    Err(e) => note!("{}: cannot answer the new offer of {from}: {e}", self.id),
                }
            }
            Signal::Candidate { candidate, .. } if candidate.is_end_of_candidates() => {}
            Signal::Candidate { candidate, .. } => {
                match Candidate::from_sdp_string(&candidate.candidate) {
                    // The socket is IPv4 loopback: an IPv6 candidate can never pair with it.
                    Ok(c) if c.addr().is_ipv4() => {
                        call.rtc.add_remote_candidate(c);
                        drive(call, &self.socket, &mut self.device, &self.id, self.seq);
                    }
                    Ok(_) => {}
                    Err(e) => note!("{}: bad candidate from {from}: {e}", self.id),
                }
            }
            Signal::Description {
                kind: SdpKind::Answer,
                sdp,
                ..
            } => self.accept_video_answer(id, &sdp),
        }
    }

    /// The answer to the camera's video offer: the track is on once it is accepted.
    fn accept_video_answer(&mut self, id: CallId, sdp: &str) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let from = &call.remote;
        let Video::Offered { mid, pending } = std::mem::replace(&mut call.video, Video::Refused)
        else {
            return note!("{}: unexpected answer from {from}", self.id);
        };
        let accepted = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| e.to_string())
            .and_then(|a| {
                let api = call.rtc.sdp_api();
                api.accept_answer(pending, a).map_err(|e| e.to_string())
            });
        match accepted {
            Ok(()) => match h264_pt(&mut call.rtc, mid) {
                Some(pt) => call.video = Video::Sending { mid, pt },
                None => note!("{}: {from} takes no H.264: data only", self.id),
            },
            Err(e) => note!("{}: bad answer from {from}: {e}", self.id),
        }
        drive(call, &self.socket, &mut self.device, &self.id, self.seq);
    }

    /// Offers the video track on every call that is connected and has none yet.
    fn offer_video(&mut self, session: &mut Session, now: Millis) {
        let mut offers = Vec::new();
        for call in self.calls.values_mut() {
            if !matches!(call.video, Video::Wanted) {
                continue;
            }
            let mut change = call.rtc.sdp_api();
            let stream = Some(format!("{}-video", self.id));
            let mid = change.add_media(MediaKind::Video, Direction::SendOnly, stream, None, None);
            call.video = match change.apply() {
                Some((offer, pending)) => {
                    let signal = Signal::Description {
                        kind: SdpKind::Offer,
                        sdp: offer.to_sdp_string(),
                        session: call.local_session.clone(),
                    };
                    offers.push((call.remote.clone(), signal));
                    Video::Offered { mid, pending }
                }
                None => Video::Refused,
            };
            drive(call, &self.socket, &mut self.device, &self.id, self.seq);
        }
        for (remote, offer) in offers {
            self.send_signal(session, now, &remote, &offer);
        }
    }

    /// Sends the next video frame to every call whose video is negotiated, when it is due.
    fn send_video(&mut self) {
        let now = Instant::now();
        if now < self.next_frame {
            return;
        }
        self.next_frame = (self.next_frame + Duration::from_millis(FRAME_MS)).max(now);
        let sending = self
            .calls
            .values()
            .any(|c| matches!(c.video, Video::Sending { .. }));
        if !sending {
            return;
        }
        let elapsed = now.duration_since(self.video_epoch).as_millis() as u64;
        let picture = h264::test_card(VIDEO_WIDTH, VIDEO_HEIGHT, elapsed);
        let frame: Arc<[u8]> = h264::encode(&picture, self.frames).into();
        self.frames = self.frames.wrapping_add(1);
        for call in self.calls.values_mut() {
            let Video::Sending { mid, pt } = call.video else {
                continue;
            };
            let Some(writer) = call.rtc.writer(mid) else {
                continue;
            };
            let media_time = MediaTime::from_90khz(elapsed * 90);
            if let Err(e) = writer.write(pt, now, media_time, frame.clone()) {
                note!("{}: video frame not sent: {e}", self.id);
                call.video = Video::Refused;
            }
            drive(call, &self.socket, &mut self.device, &self.id, self.seq);
        }
    }

    /// One telemetry interval: the model moves, every open channel gets the new state.
    fn tick(&mut self) {
        self.device.tick();
        self.seq += 1;
        let viewers = self.calls.len();
        let body = format!(
            r#"{{"type":"telemetry","id":{},"seq":{},"viewers":{viewers},"state":{}}}"#,
            json::quote(&self.id),
            self.seq,
            self.device.state_json()
        );
        for call in self.calls.values_mut() {
            let ids: Vec<ChannelId> = call.channels.iter().map(|(id, _)| *id).collect();
            for id in ids {
                send_text(&mut call.rtc, id, &body);
            }
            drive(call, &self.socket, &mut self.device, &self.id, self.seq);
        }
    }

    /// Runs the calls until `until` at the latest: their timers, then the UDP socket.
    fn run_calls(&mut self, until: Instant) {
        let now = Instant::now();
        let mut deadline = until.min(now + UDP_SLICE);
        for call in self.calls.values_mut() {
            if call.next_timeout <= now {
                if let Err(e) = call.rtc.handle_input(Input::Timeout(now)) {
                    note!("{}: call failed: {e}", self.id);
                    call.over = true;
                }
                drive(call, &self.socket, &mut self.device, &self.id, self.seq);
            }
            deadline = deadline.min(call.next_timeout);
        }
        for _ in 0..UDP_BURST {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            if self.socket.set_read_timeout(Some(wait)).is_err() {
                break;
            }
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, source)) => self.receive(source, n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                // E.g. ECONNREFUSED from an ICMP error of an earlier send: keep going.
                Err(_) => {}
            }
            // Once something arrived, only read what is already queued.
            deadline = Instant::now();
        }
        let ended: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.over || !c.rtc.is_alive())
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            let Some(mut call) = self.calls.remove(&id) else {
                continue;
            };
            // Its session goes stale in the room: late signals of it are dropped.
            self.room.peer_closed(&call.remote, &call.local_session);
            close_call(&mut call, &self.socket);
            note!("{}: call with {} ended", self.id, call.remote);
        }
    }

    /// One received datagram, to the call it belongs to.
    fn receive(&mut self, source: SocketAddr, n: usize) {
        let now = Instant::now();
        let Ok(contents) = self.buf[..n].try_into() else {
            return; // not STUN, DTLS, RTP or RTCP
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        let (device, id, seq) = (&mut self.device, self.id.as_str(), self.seq);
        if let Some(call) = self.calls.values_mut().find(|c| c.rtc.accepts(&input)) {
            if let Err(e) = call.rtc.handle_input(input) {
                note!("{id}: call failed: {e}");
                call.over = true;
            }
            drive(call, &self.socket, device, id, seq);
        }
    }
}

/// Drains str0m's output after a change (its one rule: every change is followed by
/// polling until a timeout): datagrams go out, events are handled (commands answered).
fn drive(call: &mut Call, socket: &UdpSocket, device: &mut Device, id: &str, seq: u64) {
    loop {
        match call.rtc.poll_output() {
            Ok(Output::Timeout(t)) => {
                call.next_timeout = t;
                return;
            }
            Ok(Output::Transmit(t)) => {
                // Lost datagrams are ICE's and SCTP's business.
                let _ = socket.send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => on_rtc_event(call, device, id, seq, e),
            Err(e) => {
                note!("{id}: call failed: {e}");
                call.over = true;
                return;
            }
        }
    }
}

fn on_rtc_event(call: &mut Call, device: &mut Device, id: &str, seq: u64, event: RtcEvent) {
    match event {
        RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected) => call.over = true,
        RtcEvent::Connected if matches!(call.video, Video::None) => call.video = Video::Wanted,
        RtcEvent::ChannelOpen(cid, label) => {
            note!("{id}: channel {label:?} open");
            call.channels
                .push((cid, Reassembler::new(MAX_COMMAND_BYTES)));
            // The state at once, not an interval later.
            let hello = format!(
                r#"{{"type":"telemetry","id":{},"seq":{seq},"state":{}}}"#,
                json::quote(id),
                device.state_json()
            );
            send_text(&mut call.rtc, cid, &hello);
        }
        RtcEvent::ChannelData(data) => {
            let Some((_, reassembler)) = call.channels.iter_mut().find(|(c, _)| *c == data.id)
            else {
                return;
            };
            // Binary: a chunk of the framing; text: a plain message from a peer not framing.
            let command = if data.binary {
                match reassembler.push(&data.data) {
                    Ok(Some(m)) => m.bytes,
                    Ok(None) => return,
                    Err(e) => return note!("{id}: bad frame: {}", e.message()),
                }
            } else {
                data.data.clone()
            };
            let reply = reply_to(device, &command);
            send_text(&mut call.rtc, data.id, &reply);
        }
        RtcEvent::ChannelClose(cid) => call.channels.retain(|(c, _)| *c != cid),
        _ => {}
    }
}

/// Runs a command and wraps the device's reply as `{"type":"reply","id":...,"ok":...}`,
/// `id` being the command's own `id` (string or number), so callers can match replies.
fn reply_to(device: &mut Device, command: &[u8]) -> String {
    let id = std::str::from_utf8(command)
        .ok()
        .and_then(|t| json::parse(t).ok())
        .and_then(|v| match v.get("id") {
            Some(Json::String(s)) => Some(json::quote(s)),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "null".into());
    let reply = device.command(command);
    // `Device::command` always answers with a JSON object.
    let fields = reply.strip_prefix('{').unwrap_or("}");
    format!(r#"{{"type":"reply","id":{id},{fields}"#)
}

/// The payload type to send H.264 with on `mid`, as negotiated: packetization mode 1
/// (fragmented NAL units), Constrained Baseline 42e01f preferred.
fn h264_pt(rtc: &mut Rtc, mid: Mid) -> Option<Pt> {
    let writer = rtc.writer(mid)?;
    let h264: Vec<_> = writer
        .payload_params()
        .filter(|p| p.spec().codec == Codec::H264 && p.spec().format.packetization_mode == Some(1))
        .map(|p| (p.pt(), p.spec().format.profile_level_id))
        .collect();
    h264.iter()
        .find(|(_, profile)| *profile == Some(0x42e01f))
        .or(h264.first())
        .map(|(pt, _)| *pt)
}

/// Sends one text message on a channel, framed.
fn send_text(rtc: &mut Rtc, cid: ChannelId, text: &str) {
    let Some(mut channel) = rtc.channel(cid) else {
        return;
    };
    for frame in chunk::split(text.as_bytes(), true, CHUNK_BODY) {
        if channel.write(true, &frame).is_err() {
            return;
        }
    }
}

fn close_call(call: &mut Call, socket: &UdpSocket) {
    if call.rtc.is_alive() && call.rtc.close().is_ok() {
        // Sends what closing queued (DTLS close_notify); events no longer matter.
        for _ in 0..64 {
            match call.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => break,
            }
        }
    }
}

fn session_config(id: &str, seed: u64) -> SessionConfig {
    SessionConfig {
        client_id: id.to_string(),
        protocol: ProtocolVersion::V5,
        fallback_to_v311: false,
        keep_alive: 30,
        clean_start: true,
        connect_timeout: 10_000,
        // Dashboards see the camera leave at once when its connection dies.
        will: Some(Will {
            topic: presence_topic(DEFAULT_PREFIX, ROOM, id),
            payload: Vec::new(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        }),
        queue: QueueConfig {
            qos0: false,
            ..QueueConfig::default()
        },
        seed,
        ..SessionConfig::default()
    }
}

/// The thread of camera `number`: MQTT signaling, the calls, telemetry, until `STOP`.
pub fn run(opts: Arc<Options>, number: u32, seed: u64) {
    // The rust-crypto provider; installing it again (another camera thread) is a no-op.
    str0m::crypto::from_feature_flags().install_process_default();
    let id = format!("{}-{}-{number}", opts.id_prefix, Kind::Camera);
    let socket = match UdpSocket::bind("127.0.0.1:0") {
        Ok(s) => s,
        Err(e) => return note!("{id}: cannot bind a UDP socket: {e}"),
    };
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return note!("{id}: no UDP address: {e}"),
    };
    let mut link = Link::new(
        Session::new(session_config(&id, seed)),
        &opts.host,
        opts.port,
    );
    let mut cam = Camera {
        device: Device::new(Kind::Camera, number, seed ^ 0x5EED),
        room: Room::new(id.clone()),
        calls: BTreeMap::new(),
        next_call: 0,
        sessions: SplitMix64::new(seed ^ 0xCA11),
        id,
        since_ms: epoch_ms(),
        interval_ms: opts.interval_ms,
        socket,
        local,
        seq: 0,
        next_frame: Instant::now(),
        video_epoch: Instant::now(),
        frames: 0,
        leaving: None,
        buf: vec![0; 2048],
    };

    let now = link.now();
    cam.room.start(now);
    link.session.connect(now);
    let inbox = SubscribeFilter {
        filter: inbox_topic(DEFAULT_PREFIX, ROOM, &cam.id),
        qos: QoS::AtLeastOnce,
        ..SubscribeFilter::default()
    };
    if let Err(e) = link
        .session
        .subscribe(now, vec![inbox], Properties::default())
    {
        note!("{}: cannot subscribe: {e}", cam.id);
    }
    pump(&mut link, &mut cam);

    let mut next_tick = now + cam.interval_ms;
    while !STOP.load(Ordering::SeqCst) {
        let now = link.now();
        if now >= next_tick {
            cam.tick();
            next_tick = (next_tick + cam.interval_ms).max(now + 1);
        }
        if link.session.poll_timeout().is_some_and(|t| now >= t) {
            link.session.handle_timeout(now);
        }
        if cam.room.poll_timeout().is_some_and(|t| now >= t) {
            cam.room.handle_timeout(now);
            cam.run_room(&mut link.session, now);
        }
        // MQTT first (at most a millisecond's wait), then UDP until the next deadline.
        link.wait(now);
        pump(&mut link, &mut cam);
        let mut deadline = next_tick.min(now + POLL_MS);
        if let Some(t) = link.session.poll_timeout() {
            deadline = deadline.min(t);
        }
        let until = Instant::now() + Duration::from_millis(deadline.saturating_sub(link.now()));
        cam.run_calls(until);
        let now = link.now();
        cam.offer_video(&mut link.session, now);
        cam.send_video();
        pump(&mut link, &mut cam);
    }
    stop(&mut link, &mut cam);
}

fn pump(link: &mut Link, cam: &mut Camera) {
    link.pump(&mut |s: &mut Session, now: Millis, e: Event| cam.on_event(s, now, e));
}

/// SIGINT/SIGTERM: the calls close, presence is cleared (empty retained, QoS 1, waited
/// for briefly), then DISCONNECT so the broker drops the Will.
fn stop(link: &mut Link, cam: &mut Camera) {
    let now = link.now();
    cam.room.stop();
    cam.run_room(&mut link.session, now);
    if link.session.state() == State::Connected {
        let topic = cam.presence_topic();
        cam.leaving = cam.publish(
            &mut link.session,
            now,
            message(
                topic,
                String::new(),
                QoS::AtLeastOnce,
                true,
                Properties::default(),
            ),
        );
        pump(link, cam);
        let until = now + STOP_ACK_MS;
        while cam.leaving.is_some() && link.is_open() && link.now() < until {
            link.wait(until.min(link.now() + POLL_MS));
            pump(link, cam);
        }
    }
    let now = link.now();
    link.session.disconnect(now, 0);
    pump(link, cam);
    out!("stopped {}", cam.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_the_command_id() {
        let mut d = Device::new(Kind::Camera, 1, 1);
        let r = json::parse(&reply_to(
            &mut d,
            br#"{"action":"setpoint","value":22.5,"id":"c1"}"#,
        ))
        .unwrap();
        assert_eq!(r.get("type").and_then(Json::as_str), Some("reply"));
        assert_eq!(r.get("id").and_then(Json::as_str), Some("c1"));
        assert_eq!(r.get("ok"), Some(&Json::Bool(true)));
        let setpoint = r.get("state").and_then(|s| s.get("setpoint"));
        assert_eq!(setpoint.and_then(Json::as_f64), Some(22.5));
        let r = json::parse(&reply_to(&mut d, br#"{"action":"dance","id":7}"#)).unwrap();
        assert_eq!(r.get("id").and_then(Json::as_f64), Some(7.0));
        assert_eq!(
            r.get("error").and_then(Json::as_str),
            Some("unknown action")
        );
        let r = json::parse(&reply_to(&mut d, b"hello")).unwrap();
        assert_eq!(r.get("id"), Some(&Json::Null));
        assert_eq!(r.get("ok"), Some(&Json::Bool(false)));
    }

    #[test]
    fn announces_itself_as_a_camera() {
        let name = "Native camera 1";
        let p = json::parse(&presence_json("devsim-camera-1", &meta(name), 1, 2)).unwrap();
        let m = p.get("meta").unwrap();
        assert_eq!(m.get("kind").and_then(Json::as_str), Some("camera"));
        assert_eq!(m.get("native").and_then(Json::as_str), Some("true"));
        assert_eq!(m.get("name").and_then(Json::as_str), Some(name));
    }
}
