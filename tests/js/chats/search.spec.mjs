// Search (docs/protocols/README.md#search, chats.md): GET /api/chats/:chatId/search and
// GET /api/chats/search across the caller's chats. Full-text: every word of q is the start of a
// word of the message, case-insensitively; best match first; only the caller's chats; never a
// deleted message or one hidden for the caller; an edit is followed. Pages by page and limit
// (with pagination) or by a keyset cursor (nextCursor, without pagination); bad q is 400.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAckOk, assertRestError, connect, emitAck, newUser } from '../helpers.mjs';
import {
  api,
  assertMessage,
  assertPagination,
  assertRestOk,
  openChat,
  openRequest,
  restSend,
  search,
  searchIds,
  searchPath,
} from './helpers.mjs';

test('search in a chat: word prefixes, any case, every word of q; best match first; members only', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const inLong = await restSend(alice, chatId, {
    content: 'yesterday at the market near the old station I bought one kiwi and a lot of other fruit for the whole week',
  });
  const thrice = await restSend(bob, chatId, { content: 'kiwi kiwi kiwi' });
  const plural = await restSend(alice, chatId, { content: 'KIWIS are great' });
  const longer = await restSend(bob, chatId, { content: 'a kiwifruit, please' });
  const hyphenated = await restSend(alice, chatId, { content: 'nothing to see, a skiwi is not a kiwi-less word' });
  const hello = await restSend(bob, chatId, { content: 'Hello, world!' });
  await restSend(alice, chatId, { content: 'hello there' });

  // "kiw" starts a word of each of these (not "skiwi", but "kiwi-less" has the word "kiwi").
  const data = await search(alice, chatId, { q: 'kiw' });
  const ids = data.messages.map((m) => m.id);
  assert.deepEqual(
    [...ids].sort(),
    [inLong.id, thrice.id, plural.id, longer.id, hyphenated.id].sort(),
    `the messages with a word starting "kiw": ${JSON.stringify(data.messages.map((m) => m.content))}`,
  );
  assert.ok(
    ids.indexOf(thrice.id) < ids.indexOf(inLong.id),
    `three times in a short message ranks above once in a long one: ${JSON.stringify(data.messages.map((m) => m.content))}`,
  );
  for (const m of data.messages) assertMessage(m, { chatId });
  assert.deepEqual(data.messages.find((m) => m.id === thrice.id), thrice, 'a result is the message as the history has it');
  assertPagination(data.pagination, { page: 1, total: 5, totalPages: 1 });
  assert.equal(data.hasMore, false);
  assert.equal(data.nextCursor, null);

  // Case does not matter, in q or in the message; the whole word matches too.
  assert.deepEqual((await searchIds(bob, chatId, { q: 'KIWI' })).sort(), [...ids].sort());
  assert.deepEqual((await searchIds(bob, chatId, { q: 'kiwis' })), [plural.id]);
  assert.deepEqual(await searchIds(alice, chatId, { q: 'kiwif' }), [longer.id]);
  // Every word of q must start a word of the message, in any order; punctuation separates.
  assert.deepEqual(await searchIds(alice, chatId, { q: 'hel wor' }), [hello.id]);
  assert.deepEqual(await searchIds(alice, chatId, { q: 'WORLD, hello!' }), [hello.id]);
  assert.deepEqual(await searchIds(alice, chatId, { q: 'orld' }), [], 'not the middle of a word');
  assert.deepEqual(await searchIds(alice, chatId, { q: 'melon' }), []);

  // Members only; an unknown chat is NOT_FOUND.
  assertRestError(await api('GET', searchPath(chatId, { q: 'kiwi' }), { token: mallory.token }), 403, 'FORBIDDEN', 'an outsider');
  assertRestError(await api('GET', searchPath('987654321', { q: 'kiwi' }), { token: alice.token }), 404, 'NOT_FOUND');
  assertRestError(await api('GET', searchPath(chatId, { q: 'kiwi' })), 401, 'UNAUTHORIZED');
});

test('GET /api/chats/search: across the caller\'s chats only; another pair\'s chat with the same word never appears', async () => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const dave = newUser();
  const erin = newUser();
  const withBob = await openChat(alice, bob);
  const withCarol = await openRequest(carol, alice); // a request to alice: she is a member of it
  const withDave = await openChat(alice, dave);
  const elsewhere = await openChat(dave, erin);
  const a = await restSend(bob, withBob, { content: 'the quokka smiles' });
  const b = await restSend(carol, withCarol.id, { content: 'have you seen a quokka?' });
  const c = await restSend(alice, withDave, { content: 'Quokka!' });
  const theirs = await restSend(erin, elsewhere, { content: 'a quokka, just for dave and erin' });
  await restSend(alice, withBob, { content: 'no such animal here' });

  const data = await search(alice, null, { q: 'quokka' });
  assert.deepEqual(data.messages.map((m) => m.id).sort(), [a.id, b.id, c.id].sort());
  for (const m of data.messages) assertMessage(m, {});
  assert.deepEqual(
    data.messages.map((m) => m.chatId).sort(),
    [withBob, withCarol.id, withDave].sort(),
    'each result says its chat',
  );
  assertPagination(data.pagination, { page: 1, total: 3 });
  assert.equal(data.hasMore, false);

  // Each sees only their own chats.
  assert.deepEqual((await searchIds(dave, null, { q: 'quokka' })).sort(), [c.id, theirs.id].sort());
  assert.deepEqual(await searchIds(bob, null, { q: 'quok' }), [a.id]);
  assert.deepEqual(await searchIds(newUser(), null, { q: 'quokka' }), [], 'a user with no chats finds nothing');
  // And in a chat: an outsider of it is refused, the other pair's message is never in it.
  assertRestError(await api('GET', searchPath(elsewhere, { q: 'quokka' }), { token: alice.token }), 403, 'FORBIDDEN');
  assert.deepEqual(await searchIds(alice, withBob, { q: 'quokka' }), [a.id]);
  assertRestError(await api('GET', searchPath(null, { q: 'quokka' })), 401, 'UNAUTHORIZED');
});

test('search never finds a deleted message or one hidden for the caller, and follows edits', async (t) => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const aliceSocket = await connect(t, alice.token);
  const deleted = await restSend(alice, chatId, { content: 'mango for everyone' });
  const hidden = await restSend(bob, chatId, { content: 'mango for bob only' });
  const kept = await restSend(bob, chatId, { content: 'mango stays' });
  const toEdit = await restSend(alice, chatId, { content: 'papaya salad' });
  const all = [deleted.id, hidden.id, kept.id].sort();
  assert.deepEqual((await searchIds(alice, chatId, { q: 'mango' })).sort(), all);

  // Deleted for everyone: gone for both.
  assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: deleted.id }), 'delete for everyone');
  // Hidden by alice (bob's message, deleted for her only): gone for her, still there for bob.
  assertAckOk(await emitAck(aliceSocket, 'delete_message', { messageId: hidden.id, forEveryone: false }), 'delete for me');
  for (const chat of [chatId, null]) {
    assert.deepEqual(await searchIds(alice, chat, { q: 'mango' }), [kept.id], `alice, ${chat ?? 'all chats'}`);
    assert.deepEqual((await searchIds(bob, chat, { q: 'mango' })).sort(), [hidden.id, kept.id].sort(), `bob, ${chat ?? 'all chats'}`);
  }
  const page = await search(alice, chatId, { q: 'mango' });
  assertPagination(page.pagination, { total: 1 });

  // An edit: the old words are no longer found, the new ones are.
  const edited = assertAckOk(
    await emitAck(aliceSocket, 'edit_message', { messageId: toEdit.id, content: 'guava smoothie' }),
    'edit_message',
  );
  for (const chat of [chatId, null]) {
    assert.deepEqual(await searchIds(bob, chat, { q: 'papaya' }), [], 'the old words');
    assert.deepEqual(await searchIds(bob, chat, { q: 'guav smooth' }), [toEdit.id], 'the new words');
  }
  const [found] = (await search(bob, chatId, { q: 'guava' })).messages;
  assert.deepEqual(found, edited, 'the result is the edited message');
});

test('search pages: by page and limit (pagination), and by cursor (nextCursor until hasMore is false), every result once', async () => {
  const alice = newUser();
  const bob = newUser();
  const carol = newUser();
  const chatId = await openChat(alice, bob);
  const other = await openChat(carol, alice);
  const sent = [];
  for (let i = 1; i <= 5; i++) sent.push(await restSend(i % 2 ? alice : bob, chatId, { content: `lychee number ${i}` }));
  for (let i = 6; i <= 7; i++) sent.push(await restSend(carol, other, { content: `lychee number ${i}` }));
  await restSend(alice, chatId, { content: 'not this one' });

  // One page of everything: the order the pages must follow.
  const full = await search(alice, chatId, { q: 'lychee', limit: 100 });
  const order = full.messages.map((m) => m.id);
  assert.deepEqual(order, sent.slice(0, 5).reverse().map((m) => m.id), 'equal matches: newer first');

  // By number.
  const p1 = await search(alice, chatId, { q: 'lychee', limit: 2 });
  assertPagination(p1.pagination, { page: 1, limit: 2, total: 5, totalPages: 3 });
  assert.equal(p1.hasMore, true);
  const p3 = await search(alice, chatId, { q: 'lychee', limit: 2, page: 3 });
  assertPagination(p3.pagination, { page: 3, limit: 2, total: 5, totalPages: 3 });
  assert.equal(p3.hasMore, false);
  assert.deepEqual(
    [...p1.messages, ...(await search(alice, chatId, { q: 'lychee', limit: 2, page: 2 })).messages, ...p3.messages].map((m) => m.id),
    order,
    'pages by number follow the order',
  );

  // By cursor, in the chat and across chats.
  const inChat = await walk(alice, chatId, 'lychee');
  assert.deepEqual(inChat, order, 'the cursor follows the order of the results, each once');
  const everywhere = await walk(alice, null, 'lychee');
  assert.equal(new Set(everywhere).size, everywhere.length, `every result once: ${JSON.stringify(everywhere)}`);
  assert.deepEqual([...everywhere].sort(), sent.map((m) => m.id).sort(), 'every result of both chats');
});

/**
 * Follows `nextCursor` from the first page (`limit=2`) until `hasMore` is false; calls
 * `between(pages)` after each page; returns the ids seen, in order.
 */
async function walk(user, chatId, q, between = async () => {}) {
  const seen = [];
  let data = await search(user, chatId, { q, limit: 2 });
  seen.push(...data.messages.map((m) => m.id));
  let pages = 1;
  while (data.hasMore) {
    assert.ok(pages < 20, `the cursor comes to an end (seen ${JSON.stringify(seen)})`);
    await between(pages);
    data = await search(user, chatId, { q, limit: 2, cursor: data.nextCursor });
    assert.ok(data.messages.length <= 2, 'at most limit results');
    seen.push(...data.messages.map((m) => m.id));
    pages++;
  }
  assert.equal(data.nextCursor, null);
  return seen;
}

test('a search cursor carries on after the last result seen while new messages arrive: every result once', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  const sent = [];
  for (let i = 1; i <= 6; i++) sent.push(await restSend(i % 2 ? alice : bob, chatId, { content: `durian ${i} for you` }));
  for (const chat of [chatId, null]) {
    const arrived = [];
    const seen = await walk(alice, chat, 'durian', async (pages) => {
      // New messages that match, some more strongly than those already seen.
      if (pages <= 2) {
        arrived.push((await restSend(bob, chatId, { content: `durian durian ${pages}` })).id);
        arrived.push((await restSend(alice, chatId, { content: `a durian, and then much more text about something else entirely ${pages}` })).id);
      }
    });
    assert.equal(new Set(seen).size, seen.length, `no result twice: ${JSON.stringify(seen)}`);
    const original = seen.filter((id) => !arrived.includes(id));
    assert.deepEqual([...original].sort(), sent.map((m) => m.id).sort(), 'every result there before the walk, once');
    sent.push(...arrived.map((id) => ({ id })));
  }
});

test('bad q or cursor is 400 VALIDATION on both search routes; q of punctuation alone finds nothing', async () => {
  const alice = newUser();
  const bob = newUser();
  const chatId = await openChat(alice, bob);
  await restSend(alice, chatId, { content: 'what?! ... --- a fig' });
  for (const chat of [chatId, null]) {
    for (const [what, params] of [
      ['no q', {}],
      ['an empty q', { q: '' }],
      ['q of 201 characters', { q: 'x'.repeat(201) }],
      ['q of 17 words', { q: Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ') }],
      ['q with a control character', { q: 'fig\u0007' }],
      ['a garbage cursor', { q: 'fig', cursor: 'garbage' }],
      ['a cursor of punctuation', { q: 'fig', cursor: '!!!' }],
      ['a limit that is not a number', { q: 'fig', limit: 'abc' }],
    ]) {
      const path = searchPath(chat, params);
      assertRestError(await api('GET', path, { token: alice.token }), 400, 'VALIDATION', `${what} (${path.slice(0, 80)})`);
    }
    // The bounds themselves are fine.
    assert.deepEqual((await search(alice, chat, { q: 'x'.repeat(200) })).messages, [], 'q of 200 characters');
    assert.equal(
      (await search(alice, chat, { q: `fig ${Array.from({ length: 15 }, () => 'a').join(' ')}` })).messages.length,
      1,
      '16 words',
    );
    for (const q of ['?!', '...', '--- !!! ???']) {
      const data = assertRestOk(await api('GET', searchPath(chat, { q }), { token: alice.token }), 200, `q=${q}`);
      assert.deepEqual(data.messages, [], `q=${q} finds nothing`);
      assert.equal(data.hasMore, false);
      assert.equal(data.nextCursor, null);
    }
  }
});
