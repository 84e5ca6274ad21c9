//! The TypeScript declarations of the WebRTC API (`RtcPeer`, `RtcChannel`, signals,
//! options, stats), written by hand so every event and option has a real type.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_RTC: &'static str = r#"
/** What one peer sends the other; `session` identifies the sending peer instance.
 *  End-of-candidates is a candidate whose `candidate` string is empty. */
export type SignalMessage =
  | { type: "offer" | "answer"; sdp: string; session: string }
  | { type: "candidate"; candidate: RTCIceCandidateInit; session: string };

export interface ChannelOptions {
  /** Default true. */
  ordered?: boolean;
  /** Unreliable: give up after this many retransmissions (not with maxPacketLifeTime). */
  maxRetransmits?: number;
  /** Unreliable: give up after this many milliseconds (not with maxRetransmits). */
  maxPacketLifeTime?: number;
  /** Sub-protocol name, passed through to the remote channel. */
  protocol?: string;
}

/** A STUN or TURN server. TURN URLs need `username` and `credential`. */
export interface IceServer {
  /** "stun:host:port", "turn:host:port?transport=udp", "turns:...", or several. */
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** The ICE servers, or a function returning them (e.g. fetching short-lived TURN
 *  credentials). A function is called once per peer, before its connection is made:
 *  by `RtcPeer.create()`, `MqttSignaling.call()` and for each incoming call (the
 *  constructor `new RtcPeer()` cannot wait for it and throws "INVALID_ARGUMENT"). */
export type IceServersOption = IceServer[] | (() => IceServer[] | Promise<IceServer[]>);

export interface RtcPeerOptions {
  /** STUN/TURN servers; default none (host candidates only). Each is checked: a bad URL,
   *  or a TURN server without username/credential, is "INVALID_ARGUMENT". */
  iceServers?: IceServersOption;
  /** "relay": only TURN relay candidates (hides the host's addresses; needs a TURN
   *  server). Default "all". */
  iceTransportPolicy?: "all" | "relay";
  /** Default "balanced" (the browser's default). */
  bundlePolicy?: "balanced" | "max-compat" | "max-bundle";
  /** Candidates gathered before the first offer, 0..255; default 0 (with a pool,
   *  Chromium now and then gathers no candidate at all for a new connection). */
  iceCandidatePoolSize?: number;
  /** The side that rolls back its own offer on a collision. When omitted, the side
   *  with the smaller session id is polite. */
  polite?: boolean;
  /** Tracks of this stream are sent from the start. */
  stream?: MediaStream;
  /** Data channels created at the start (a label string, or options with a label). */
  channels?: (string | (ChannelOptions & { label: string }))[];
}

export interface CandidateInfo { type?: RTCIceCandidateType; address?: string; port?: number; protocol?: string; }

export interface PeerStats {
  /** Round-trip time of the selected candidate pair, in milliseconds. */
  rtt?: number;
  bytesSent: number;
  bytesReceived: number;
  /** The selected pair's count; where the browser keeps none (Firefox), the media streams'. */
  packetsSent: number;
  packetsReceived: number;
  /** Sum over received media streams. */
  packetsLost: number;
  localCandidateType?: RTCIceCandidateType;
  remoteCandidateType?: RTCIceCandidateType;
  selectedPair?: { local: CandidateInfo; remote: CandidateInfo };
}

export interface PeerEvents {
  /** Send this to the remote side (it calls `signal` with it). */
  signal: (m: SignalMessage) => void;
  /** The connection state became "connected" (again, after a restart). */
  connect: () => void;
  close: () => void;
  /** A data channel the remote side created. */
  channel: (c: RtcChannel) => void;
  track: (t: MediaStreamTrack, s: MediaStream) => void;
  state: (s: RTCPeerConnectionState) => void;
  /** Besides signal failures: "ICE_FAILED" when the connection can never be made (ICE
   *  gathering ended with no usable candidate — e.g. a TURN server refused the
   *  credentials or is unreachable under the relay policy — or the connection state
   *  became "failed"); the message names what the ICE servers reported. Once per
   *  gathering or connection attempt. "CALL_REJECTED" (peers of `MqttSignaling.call`
   *  only): the callee refused the call; the peer closes right after. */
  error: (e: MqttError) => void;
}

export class RtcPeer {
  /** Throws "INVALID_ARGUMENT" for an invalid option, or an `iceServers` function (use
   *  `RtcPeer.create`). */
  constructor(options?: RtcPeerOptions);
  /** Calls an `iceServers` function first (fresh TURN credentials), then constructs.
   *  Rejects with "INVALID_ARGUMENT" when an option is invalid or the function fails. */
  static create(options?: RtcPeerOptions): Promise<RtcPeer>;
  free(): void;
  /** Feeds a signal from the remote side. Rejects (and emits "error") with code
   *  "INVALID_SIGNAL" when malformed, "NEGOTIATION_FAILED" when it cannot be applied,
   *  "CLOSED" after close(). Signals of another session are ignored. */
  signal(message: SignalMessage): Promise<void>;
  /** Messages of any size on ordered reliable channels; the remote side gets "channel". */
  createChannel(label: string, options?: ChannelOptions): RtcChannel;
  /** The channels not yet closed, local and remote. */
  channels(): RtcChannel[];
  addTrack(track: MediaStreamTrack, stream: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  replaceTrack(old: MediaStreamTrack, next: MediaStreamTrack | null): Promise<void>;
  restartIce(): void;
  stats(): Promise<PeerStats>;
  /** Closes channels and the connection, removes every listener; emits "close" once. */
  close(): void;
  readonly connectionState: RTCPeerConnectionState;
  /** This peer's session id, carried by every signal it emits. */
  readonly session: string;
  /** The remote session signals are accepted from (the first one seen). */
  readonly remoteSession: string | undefined;
  readonly polite: boolean;
  on<K extends keyof PeerEvents>(event: K, listener: PeerEvents[K]): this;
  off<K extends keyof PeerEvents>(event: K, listener: PeerEvents[K]): this;
}

export interface ChannelEvents {
  message: (data: string | Uint8Array) => void;
  open: () => void;
  close: () => void;
  error: (e: MqttError) => void;
}

export class RtcChannel {
  private constructor();
  free(): void;
  readonly label: string;
  readonly readyState: RTCDataChannelState;
  /** Ordered and reliable (messages above the SCTP message size are split). */
  readonly reliable: boolean;
  /** Bytes not yet sent: the channel's buffer plus messages waiting here. */
  readonly bufferedAmount: number;
  /** Resolves once the whole message is handed to the channel; waits while its buffer
   *  is full. Rejects with "MESSAGE_TOO_LARGE" (unreliable channel) or "CLOSED". */
  send(data: string | Uint8Array | ArrayBuffer): Promise<void>;
  on<K extends keyof ChannelEvents>(event: K, listener: ChannelEvents[K]): this;
  off<K extends keyof ChannelEvents>(event: K, listener: ChannelEvents[K]): this;
  close(): void;
}
"#;
