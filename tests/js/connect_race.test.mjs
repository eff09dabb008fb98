// Events a client emits the moment it is connected (or even before: socket.io-client buffers them
// and flushes them on connect) must be handled. The seed's React example emits join_conversation
// right after io(); docs/protocols/conversations.md's handlers are "in place before the first event can arrive".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io } from 'socket.io-client';
import {
  BASE_URL,
  assertAckOk,
  connect,
  emitAck,
  newUser,
  openConversation,
} from './helpers.mjs';

const ROUNDS = 60;

test('an event emitted right after connect is always answered', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  for (let i = 0; i < ROUNDS; i++) {
    const socket = await connect(null, alice.token);
    try {
      const ack = await emitAck(socket, 'join_conversation', { conversationId }, 3000).catch((e) => {
        throw new Error(`round ${i + 1} of ${ROUNDS}: join_conversation emitted on connect: ${e.message}`);
      });
      assert.equal(assertAckOk(ack).conversationId, conversationId);
    } finally {
      socket.close();
    }
  }
});

test('an event emitted before connect (buffered by the client) is always answered', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const { conversationId } = await openConversation(alice, bob);
  for (let i = 0; i < ROUNDS; i++) {
    // Exactly the seed's pattern: io(...), then emit at once, without waiting for 'connect'.
    const socket = io(BASE_URL, {
      auth: { token: alice.token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    try {
      const ack = await emitAck(socket, 'join_conversation', { conversationId }, 3000).catch((e) => {
        throw new Error(`round ${i + 1} of ${ROUNDS}: join_conversation emitted before connect: ${e.message}`);
      });
      assert.equal(assertAckOk(ack).conversationId, conversationId);
    } finally {
      socket.close();
    }
  }
});
