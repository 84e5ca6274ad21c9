//! The TypeScript declarations of the public API (`../shared` api contract): the classes
//! are declared here in full, so every option, event and result has a real type.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_API: &'static str = r#"
export type QoS = 0 | 1 | 2;
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
  payload: string | Uint8Array;
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

export interface ConnectOptions {
  clientId?: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string | Uint8Array;
  credentials?: () => Promise<Credentials> | Credentials;
  keepalive?: number;
  clean?: boolean;
  sessionExpiry?: number;
  connectTimeout?: number;
  will?: WillOptions;
  reconnect?: false | ReconnectOptions;
  resubscribe?: boolean;
  queue?: QueueOptions;
  store?: "memory";
  properties?: ConnectProperties;
  signal?: AbortSignal;
  logLevel?: "off" | "error" | "warn" | "info" | "debug";
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
  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): Promise<PublishResult>;
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
  | "CALL_REJECTED";

export class MqttError extends Error {
  constructor(code: ErrorCode, message: string, reasonCode?: number);
  free(): void;
  /** Stable: "NOT_AUTHORIZED", "CONNECT_TIMEOUT", "INVALID_TOPIC", ... (see `ErrorCode`). */
  readonly code: ErrorCode;
  readonly reasonCode?: number;
}
"#;
