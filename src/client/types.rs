//! The TypeScript declarations of the public API: the classes
//! are declared here in full, so every option, event and result has a real type.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_API: &'static str = r#"
export type QoS = 0 | 1 | 2;
/** What a payload may be: a string is sent as UTF-8; bytes as they are. */
export type Payload = string | Uint8Array | ArrayBuffer | ArrayBufferView;
export type ClientState = "connecting" | "connected" | "reconnecting" | "offline" | "closed";

export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  userProperties?: Record<string, string | string[]>;
}

export interface ConnectProperties {
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  userProperties?: Record<string, string | string[]>;
}

export interface WillOptions {
  topic: string;
  payload: Payload;
  qos?: QoS;
  retain?: boolean;
  properties?: PublishProperties & { willDelayInterval?: number };
}

export interface ReconnectOptions {
  initialDelay?: number;
  maxDelay?: number;
  multiplier?: number;
  jitter?: number;
  maxAttempts?: number;
}

export interface QueueOptions {
  maxMessages?: number;
  maxBytes?: number;
  qos0?: boolean;
  overflow?: "reject" | "drop-oldest";
}

export interface Credentials { url?: string; username?: string; password?: string; }

/** Told after each failed attempt of the first `connect()` that another attempt follows. */
export interface AttemptInfo {
  /** Failed attempts so far, from 1. */
  attempt: number;
  /** The URL that failed. */
  url: string;
  /** Why, naming the URL: refused or TLS (close code 1006), CONNACK reason, timeout. */
  error: MqttError;
  /** Milliseconds until the next attempt. */
  delay: number;
}

export interface ConnectOptions {
  clientId?: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string | Uint8Array;
  credentials?: () => Promise<Credentials> | Credentials;
  keepalive?: number;
  clean?: boolean;
  sessionExpiry?: number;
  /** Milliseconds each attempt may take until CONNACK (default 30000). */
  connectTimeout?: number;
  will?: WillOptions;
  /** The policy for reconnecting after a drop (and between attempts while waitForBroker). */
  reconnect?: false | ReconnectOptions;
  /**
   * By default `connect()` tries each URL once (with `reconnect: false`, only the first)
   * and rejects with why each failed, naming the URL. `true`
   * keeps trying (per `reconnect`) until a broker answers or `signal` aborts;
   * `{ maxAttempts }` gives up after that many failed attempts.
   */
  waitForBroker?: boolean | { maxAttempts?: number };
  /** Called after each failed attempt of the first connect that is retried. */
  onAttempt?: (info: AttemptInfo) => void;
  /**
   * The WebSocket constructor to use instead of the global `WebSocket` (Node.js before 22
   * without --experimental-websocket: the `ws` package). Called as `new WebSocket(url, "mqtt")`.
   */
  WebSocket?: new (url: string, protocol: string) => object;
  resubscribe?: boolean;
  queue?: QueueOptions;
  /**
   * The most QoS 1/2 publishes in flight (sent, not yet acknowledged) at once, 1 to 65535;
   * the rest wait in order. Default: 20 on MQTT 3.1.1, which has no Receive Maximum, so
   * that a broker's own cap (Mosquitto's default max_inflight_messages is 20) never drops
   * messages beyond it; on MQTT 5.0 the broker's Receive Maximum, or the smaller of the two
   * when this is given.
   */
  maxInflight?: number;
  /**
   * Where the session's QoS 1/2 state lives. "memory" (default): in the page. "indexeddb":
   * in IndexedDB, so that a new page (reload, crash, new tab) connecting with the same
   * clientId (required) and the same URLs resumes it: unacknowledged publishes, offline
   * ones included, are resent and QoS 2 messages already delivered are not delivered again.
   * A message is kept before it is sent, an incoming QoS 2 id before the message is
   * delivered. One client at a time per store (a Web Lock): another one gets
   * "STORE_LOCKED". Failures are "STORE_UNAVAILABLE" (no IndexedDB or Web Locks, e.g. some
   * private modes), "STORE_QUOTA" and "STORE_FAILED"; a write that fails ends the client.
   * Or a SessionStore of your own.
   */
  store?: "memory" | "indexeddb" | SessionStore;
  properties?: ConnectProperties;
  signal?: AbortSignal;
  logLevel?: "off" | "error" | "warn" | "info" | "debug";
}

/**
 * A durable store for `ConnectOptions.store`: records (name to bytes) under a key that
 * names the broker URLs and the client id. Calls come one at a time, each awaited; a
 * promise that rejects ends the client with "STORE_FAILED" ("STORE_QUOTA" for a
 * QuotaExceededError). The client holds a Web Lock named "mqtt-rtc " + key while it lives.
 */
export interface SessionStore {
  /** Every record under `key`, in any order. */
  get(key: string): Promise<Array<[string, Uint8Array]>>;
  /** Creates or replaces records; resolves once they are durable. */
  put(key: string, records: Array<[string, Uint8Array]>): Promise<void>;
  /** Removes records (absent ones are fine); resolves once durable. */
  delete(key: string, names: string[]): Promise<void>;
}

export interface PublishOptions { qos?: QoS; retain?: boolean; properties?: PublishProperties; }

export interface SubscribeOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

export interface Message {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** MQTT 5 properties. `subscriptionIdentifiers`: the `subscriptionIdentifier`s given to
   *  `subscribe()` whose subscriptions this copy is for (not the ones the client picks
   *  itself to route a listener's messages). */
  properties?: PublishProperties & { subscriptionIdentifiers?: number[] };
  text(): string;
}

export interface PublishResult { packetId?: number; reasonCode: number; }
export interface Granted { filter: string; qos?: QoS; reasonCode: number; }

export interface ConnAckProperties extends ConnectProperties {
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
}

export interface ClientEvents {
  connect: (info: { sessionPresent: boolean; reasonCode: number; properties?: ConnAckProperties }) => void;
  message: (m: Message) => void;
  reconnecting: (info: { attempt: number; delay: number }) => void;
  offline: () => void;
  close: () => void;
  error: (e: MqttError) => void;
  state: (s: ClientState) => void;
}

export interface ClientStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  inflight: number;
  queued: number;
  reconnects: number;
  lastPingRtt?: number;
}

export class MqttClient {
  private constructor();
  free(): void;
  /** Opens the session; resolves after the first successful CONNACK. */
  static connect(url: string | string[], options?: ConnectOptions): Promise<MqttClient>;
  /** QoS 0: resolves when written (or queued while offline). QoS 1: on PUBACK. QoS 2: on PUBCOMP. */
  publish(topic: string, payload: Payload, options?: PublishOptions): Promise<PublishResult>;
  /** Resolves with the granted QoS / reason code per filter. */
  subscribe(filter: string | string[], options?: SubscribeOptions, onMessage?: (m: Message) => void): Promise<Granted[]>;
  unsubscribe(filter: string | string[]): Promise<void>;
  /** Graceful: waits (up to `timeout` ms, default 10000) for queued publishes and QoS 1/2
   *  exchanges to complete, sends DISCONNECT, closes. force: true drops at once (Will fires). */
  end(options?: { force?: boolean; reasonCode?: number; timeout?: number }): Promise<void>;
  /** Drop the connection now and reconnect (keeps the session). */
  reconnect(): void;
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): this;
  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): this;
  readonly state: ClientState;
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  stats(): ClientStats;
  /** Frees the handle (`using client = ...`); does not end the session: call `end()`. */
  [Symbol.dispose](): void;
}

/** The stable codes of `MqttError.code` (the same list as the library's Rust `ErrorCode`). */
export type ErrorCode =
  | "NOT_AUTHORIZED"
  | "CONNECT_TIMEOUT"
  | "KEEPALIVE_TIMEOUT"
  | "INVALID_TOPIC"
  | "PACKET_TOO_LARGE"
  | "QUEUE_FULL"
  | "PROTOCOL_ERROR"
  | "CLOSED"
  | "REFUSED"
  | "CONNECTION_LOST"
  | "SERVER_DISCONNECT"
  | "PUBLISH_FAILED"
  | "NOT_CONNECTED"
  | "QOS_NOT_SUPPORTED"
  | "RETAIN_NOT_SUPPORTED"
  | "INVALID_ARGUMENT"
  | "INVALID_QOS"
  | "ABORTED"
  | "NOT_STARTED"
  | "INVALID_SIGNAL"
  | "NEGOTIATION_FAILED"
  | "CHANNEL_ERROR"
  | "INVALID_FRAME"
  | "MESSAGE_TOO_LARGE"
  | "STATS_FAILED"
  | "BUSY"
  | "ICE_FAILED"
  | "CALL_REJECTED"
  | "STORE_UNAVAILABLE"
  | "STORE_LOCKED"
  | "STORE_QUOTA"
  | "STORE_FAILED";

export class MqttError extends Error {
  constructor(code: ErrorCode, message: string, reasonCode?: number);
  free(): void;
  /** Stable: "NOT_AUTHORIZED", "CONNECT_TIMEOUT", "INVALID_TOPIC", ... (see `ErrorCode`). */
  readonly code: ErrorCode;
  readonly reasonCode?: number;
  [Symbol.dispose](): void;
}
"#;
