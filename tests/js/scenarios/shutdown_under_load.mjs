// Scenario driven by tests/socket_io_shutdown.rs (not part of the node:test suite): CLIENTS
// official socket.io-client sockets on TRANSPORT each keep PIPELINE sends with client ids in
// flight. Prints `ready` once SENDS_BEFORE_READY sends are acknowledged, keeps sending until
// every socket has disconnected (the server is being stopped), then prints one JSON line:
// { acked: [clientMsgId...], refused: [code...] } and exits.
//
// Environment: PARLEY_URL, TOKENS (comma-separated, one per client), CONVERSATIONS (same
// order), TRANSPORT (polling | websocket), PIPELINE, SENDS_BEFORE_READY.

import { io } from 'socket.io-client';

const url = process.env.PARLEY_URL;
const tokens = process.env.TOKENS.split(',');
const conversations = process.env.CONVERSATIONS.split(',').map(Number);
const transport = process.env.TRANSPORT;
const pipeline = Number(process.env.PIPELINE ?? 20);
const readyAfter = Number(process.env.SENDS_BEFORE_READY ?? 100);

const acked = [];
const refused = [];
let announced = false;
let open = tokens.length;

// Bounded: the scenario ends by itself even if the server never stops.
const limit = setTimeout(() => finish(), 60_000);

function finish() {
  clearTimeout(limit);
  process.stdout.write(`${JSON.stringify({ acked, refused })}\n`);
  process.exit(0);
}

tokens.forEach((token, c) => {
  const socket = io(url, { transports: [transport], auth: { token }, reconnection: false, forceNew: true });
  let next = 0;
  let stopped = false;
  const send = () => {
    if (stopped) return;
    const id = `c${c}-m${next++}`;
    socket.emit('send_message', { conversationId: conversations[c], content: id, clientMsgId: id }, (ack) => {
      if (ack?.success) acked.push(id);
      else refused.push(ack?.error?.code ?? 'NONE');
      if (!announced && acked.length >= readyAfter) {
        announced = true;
        process.stdout.write('ready\n');
      }
      if (ack?.success) send();
      else stopped = true;
    });
  };
  socket.on('connect', () => {
    for (let i = 0; i < pipeline; i++) send();
  });
  socket.on('disconnect', () => {
    stopped = true;
    open -= 1;
    // Answers that arrived with the close have been counted; give late callbacks a tick.
    if (open === 0) setImmediate(finish);
  });
});
