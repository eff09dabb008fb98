// A terminal chat client written the way the seed documents a frontend: socket.io-client v4,
// `auth: { token }`, `send_message` with `receiverId`, `join_conversation`, `new_message`,
// `typing`. Run two of them (one per user) against a running parley:
//
//   node chat.mjs --token "$TOKEN_1" --to 2
//   node chat.mjs --token "$TOKEN_2" --to 1
//
// Type a line and press Enter to send it. `--say "text"` sends one message and exits.
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3010' },
    token: { type: 'string' },
    to: { type: 'string' },
    say: { type: 'string' },
    polling: { type: 'boolean', default: false },
  },
});
if (!values.token || !values.to) {
  console.error('usage: node chat.mjs --token TOKEN --to USER_ID [--url URL] [--say TEXT] [--polling]');
  process.exit(2);
}
// The seeds' user ids are numbers; keep them numbers when they look like one.
const peer = /^\d+$/.test(values.to) ? Number(values.to) : values.to;

const socket = io(values.url, {
  auth: { token: values.token },
  transports: values.polling ? ['polling'] : ['websocket'],
});
let conversationId = null;

socket.on('connect_error', (err) => {
  console.error(`connection refused: ${err.message}`);
  process.exit(1);
});
socket.on('new_message', (m) => {
  if (m.senderId !== peer) return;
  console.log(`\n[${m.createdAt}] ${m.sender?.name ?? m.senderId}: ${m.content}`);
});
socket.on('message_notification', (n) => {
  if (n.from !== peer) return;
  console.log(`\n[${n.timestamp}] ${n.sender?.name ?? n.from} (notification): ${n.content}`);
  join(n.conversationId);
});
socket.on('user_typing', (t) => process.stdout.write(`\r${t.userId} is typing...   `));
socket.on('user_stopped_typing', () => process.stdout.write('\r                         \r'));
socket.on('online_status', (s) => console.log(`\n${s.userId} is ${s.status}`));
socket.on('error', (e) => console.error(`\nerror (${e.event}): ${e.code} ${e.message}`));

async function join(id) {
  if (conversationId === id) return;
  const ack = await socket.timeout(5000).emitWithAck('join_conversation', { conversationId: id });
  if (ack.success) conversationId = id;
}

async function send(content) {
  const payload = conversationId
    ? { conversationId, receiverId: peer, content }
    : { receiverId: peer, content };
  const ack = await socket.timeout(5000).emitWithAck('send_message', payload);
  if (!ack.success) {
    console.error(`not sent: ${ack.error.code} ${ack.error.message}`);
    return;
  }
  await join(ack.data.conversationId);
  console.log(`sent #${ack.data.seq}`);
}

socket.on('connect', async () => {
  if (values.say) {
    await send(values.say);
    socket.close();
    return;
  }
  console.log(`connected as the token's user; chatting with ${peer}. Type and press Enter.`);
  const rl = readline.createInterface({ input: process.stdin });
  if (process.stdin.isTTY) readline.emitKeypressEvents(process.stdin);
  process.stdin.on('keypress', () => conversationId && socket.emit('typing', { conversationId }));
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    if (conversationId) socket.emit('stop_typing', { conversationId });
    await send(line);
  });
  rl.on('close', () => socket.close());
});
