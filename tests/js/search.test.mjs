// 6. GET /conversations/:id/search: full-text, by word prefix, ranked, paginated.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertPage, assertRestError, chat, newUser, restSend } from './helpers.mjs';

async function search(user, conversationId, q, extra = '') {
  const res = await chat(
    'GET',
    `/conversations/${conversationId}/search?q=${encodeURIComponent(q)}${extra}`,
    { token: user.token },
  );
  assert.equal(res.status, 200, `search ${JSON.stringify(q)}: ${res.status} ${res.text}`);
  assert.equal(res.body.success, true);
  return res.body.data;
}

test('search finds words by prefix, case-insensitively, ranked, in pages, never elsewhere', async () => {
  const alice = newUser();
  const bob = newUser();
  const contents = [
    'Hello World',
    'well, hello there',
    'goodbye',
    'HELLO again, hello hello',
    '100% sure',
    '100 percent',
    'snake_case',
    'snakeXcase',
  ];
  const { conversation_id: conversationId } = await restSend(alice, {
    receiverId: bob.id,
    content: contents[0],
  });
  for (const content of contents.slice(1)) {
    await restSend(content.startsWith('HELLO') ? bob : alice, { conversationId, content });
  }
  // A message in another conversation must never show up.
  const carol = newUser();
  await restSend(alice, { receiverId: carol.id, content: 'hello carol' });
  const sorted = (data) => data.messages.map((m) => m.content).sort();

  let data = await search(alice, conversationId, 'hello');
  assertPage(data, { total: 3, page: 1, totalPages: 1, count: 3 });
  assert.deepEqual(sorted(data), ['HELLO again, hello hello', 'Hello World', 'well, hello there']);
  assert.equal(data.messages[0].content, 'HELLO again, hello hello', 'the word three times ranks first');
  assert.ok(data.messages.every((m) => m.conversation_id === conversationId));

  data = await search(bob, conversationId, 'hElLo');
  assert.equal(data.total, 3);
  data = await search(bob, conversationId, 'hel');
  assert.equal(data.total, 3, 'a word matches by its start');
  data = await search(bob, conversationId, 'hello world');
  assert.deepEqual(sorted(data), ['Hello World'], 'every word must match');

  // Pages of the same ranking hold every result once.
  const p1 = await search(alice, conversationId, 'hello', '&limit=2&page=1');
  assertPage(p1, { total: 3, page: 1, totalPages: 2, count: 2 });
  const p2 = await search(alice, conversationId, 'hello', '&limit=2&page=2');
  assertPage(p2, { total: 3, page: 2, totalPages: 2, count: 1 });
  assert.deepEqual(
    [...p1.messages, ...p2.messages].map((m) => m.content).sort(),
    sorted(await search(alice, conversationId, 'hello')),
  );

  // Punctuation separates words and finds nothing by itself.
  data = await search(alice, conversationId, '%');
  assert.deepEqual(data.messages, []);
  data = await search(alice, conversationId, '100%');
  assert.deepEqual(sorted(data), ['100 percent', '100% sure']);
  data = await search(alice, conversationId, 'snake_case');
  assert.deepEqual(sorted(data), ['snake_case']);

  data = await search(alice, conversationId, 'nothing like this');
  assert.equal(data.total, 0);
  assert.deepEqual(data.messages, []);
});

test('search needs a 1 to 200 character q and a participant', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const { conversation_id: conversationId } = await restSend(alice, {
    receiverId: bob.id,
    content: 'secret plans',
  });
  const base = `/conversations/${conversationId}/search`;
  assertRestError(await chat('GET', base, { token: alice.token }), 400, 'VALIDATION', 'missing q');
  assertRestError(await chat('GET', `${base}?q=`, { token: alice.token }), 400, 'VALIDATION', 'empty q');
  assertRestError(
    await chat('GET', `${base}?q=${'a'.repeat(201)}`, { token: alice.token }),
    400,
    'VALIDATION',
    '201-character q',
  );
  const ok = await chat('GET', `${base}?q=${'a'.repeat(200)}`, { token: alice.token });
  assert.equal(ok.status, 200, '200-character q is fine');
  assert.equal(ok.body.data.total, 0);

  assertRestError(
    await chat('GET', `${base}?q=secret`, { token: mallory.token }),
    403,
    'FORBIDDEN',
    'outsider search',
  );
  assertRestError(
    await chat('GET', '/conversations/1999999999/search?q=secret', { token: alice.token }),
    404,
    'NOT_FOUND',
    'unknown conversation search',
  );
});
