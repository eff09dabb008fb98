// Backpressure: a client that fires events without waiting gets an answer for every one of them,
// or, past what the server buffers for it (SOCKET_BUFFER_PACKETS), its connection is closed so it
// reconnects and catches up; never a silent drop on a connection that stays open.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, listMessages, newUser, openConversation, rand } from './helpers.mjs';

/**
 * Fires `n` send_message events at once, each with an acknowledgement; resolves when every one
 * is answered, or when the connection closes. Returns the answers and whether it closed.
 */
function pipeline(socket, conversationId, n, tag) {
  return new Promise((resolve) => {
    const answers = [];
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ answers, closed });
    };
    // Bounded: a missing answer on an open connection fails the test below.
    const timer = setTimeout(finish, 20_000);
    socket.once('disconnect', () => {
      closed = true;
      finish();
    });
    for (let i = 0; i < n; i++) {
      const payload = { conversationId, content: `${tag} ${i}`, clientMsgId: `${tag}-${i}` };
      socket.emit('send_message', payload, (ack) => {
        answers.push(ack);
        if (answers.length === n) finish();
      });
    }
  });
}

test('1,000 pipelined sends: every one is answered, stored or refused RATE_LIMITED', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  const socket = await connect(t, alice.token);
  const tag = rand();
  const { answers, closed } = await pipeline(socket, conversationId, 1000, tag);
  assert.equal(closed, false, 'the connection stays open');
  assert.equal(answers.length, 1000, 'every event got its answer');
  const ok = answers.filter((a) => a.success === true);
  const refused = answers.filter((a) => a.success === false);
  assert.ok(refused.every((a) => a.error.code === 'RATE_LIMITED'), JSON.stringify(refused[0]));
  assert.ok(ok.length > 0 && refused.length > 0, `${ok.length} stored, ${refused.length} refused`);
  // What was acknowledged is stored, and nothing else.
  const data = await listMessages(alice, conversationId, '?limit=100');
  assert.equal(data.total, 1 + ok.length);
});

test('10,000 pipelined events: all answered, or the connection is closed (never a silent drop)', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  const socket = await connect(t, alice.token);
  const { answers, closed } = await pipeline(socket, conversationId, 10_000, rand());
  if (!closed) {
    assert.equal(answers.length, 10_000, 'on an open connection every event is answered');
  }
  assert.ok(
    answers.every((a) => a.success === true || ['RATE_LIMITED'].includes(a.error?.code)),
    'answers are results or RATE_LIMITED',
  );
  // The client can come back at once.
  const again = await connect(t, alice.token);
  assert.equal(again.connected, true);
});
