// tools/cluster/node.js — one node of the clustered test broker of tests/js/test/cluster.test.js.
// An aedes MQTT 3.1.1 broker whose sessions (subscriptions, queued and in-flight QoS 1/2
// messages, incoming QoS 2 packet ids) live in Redis (aedes-persistence-redis) and whose
// messages reach the other nodes through Redis publish/subscribe (mqemitter-redis), so two
// of these started on the same Redis behave as one broker: a client that loses its node
// reconnects to the other and finds its session there (CONNACK Session Present = 1). Each
// node listens on 127.0.0.1 only, with a WebSocket listener (the browser's) and a TCP one
// (mosquitto_sub/mosquitto_pub's), on ports the system picks; once both listen and Redis is
// reached it prints one JSON line, {"id","ws","tcp"}, on stdout. It exits on SIGTERM or
// SIGINT (gracefully), and when its standard input closes, so a test that dies does not
// leave it running. Usage: node tools/cluster/node.js --id NAME --redis-port PORT
import { createServer as createTcpServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';
import persistenceRedis from 'aedes-persistence-redis';
import mqemitterRedis from 'mqemitter-redis';
import { WebSocketServer, createWebSocketStream } from 'ws';

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    'redis-port': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!args.id || !args['redis-port']) {
  console.error('usage: node tools/cluster/node.js --id NAME --redis-port PORT');
  process.exit(2);
}
const redis = { host: '127.0.0.1', port: Number(args['redis-port']) };

const broker = await Aedes.createBroker({
  id: args.id,
  persistence: persistenceRedis(redis),
  mq: mqemitterRedis(redis),
});
broker.on('clientError', (client, err) => console.error(`${args.id}: client ${client?.id}: ${err.message}`));
broker.on('connectionError', (client, err) => console.error(`${args.id}: connection: ${err.message}`));

const tcp = createTcpServer(broker.handle);
const http = createHttpServer((_, res) => res.writeHead(426).end('MQTT over WebSocket only\n'));
// MQTT over WebSocket: binary frames carry the byte stream (createWebSocketStream writes
// Buffers as binary frames); ws accepts the client's first subprotocol ("mqtt").
new WebSocketServer({ server: http }).on('connection', (socket, req) => {
  const stream = createWebSocketStream(socket);
  stream.on('error', () => {}); // a client that vanished: aedes sees the close
  broker.handle(stream, req);
});
const listen = (server) => new Promise((ok, fail) => {
  server.once('error', fail);
  server.listen(0, args.host, () => ok(server.address().port));
});
const [tcpPort, wsPort] = await Promise.all([listen(tcp), listen(http)]);
console.log(JSON.stringify({ id: args.id, ws: `ws://${args.host}:${wsPort}/`, tcp: tcpPort }));

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  tcp.close();
  http.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop).on('error', stop).resume();
