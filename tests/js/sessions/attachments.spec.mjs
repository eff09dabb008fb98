// Uploaded files in the sessions vocabulary (docs/protocols/sessions.md#attachments): a frontend
// uploads with a FormData to POST /api/v1/chat/attachments, sends the file with send_message
// { chatId, fileId }, and the receiver shows attachmentUrl in an <img src> (no token).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG_3X2, assertAckError, assertAckOk, connect, emitAck, fetchFile, newUser, once, postForm } from '../helpers.mjs';
import { TRANSPORTS, assertRestOk, history, openChat, restSend } from './helpers.mjs';

const PNG = PNG_3X2;

/** `POST /api/v1/chat/attachments` with `chatId` and a `file`. */
async function attach(user, chatId, bytes = PNG, name = 'cat.png', type = 'image/png') {
  const form = new FormData();
  form.append('chatId', String(chatId));
  form.append('file', new Blob([bytes], { type }), name);
  return postForm('/api/v1/chat/attachments', user.token, form);
}

for (const { name, opts } of TRANSPORTS) {
  test(`[${name}] an uploaded image is sent as an IMAGE message and shown by its signed attachmentUrl`, async (t) => {
    const alice = newUser();
    const bob = newUser();
    const mallory = newUser();
    const chatId = await openChat(alice, bob);
    const aliceSocket = await connect(t, alice.token, opts);
    const bobSocket = await connect(t, bob.token, opts);

    const up = await attach(alice, chatId);
    const file = assertRestOk(up, 201, 'POST /attachments');
    assert.equal(file.type, 'IMAGE');
    assert.equal(file.chatId, String(chatId));
    assert.equal(file.attachmentMimeType, 'image/png');
    assert.equal(file.attachmentName, 'cat.png');
    assert.equal(file.attachmentSize, PNG.length);
    assert.deepEqual([file.width, file.height], [3, 2]);
    assert.equal((await fetchFile(file.attachmentUrl)).status, 200, 'the uploader may preview it');

    const received = once(bobSocket, 'message_received');
    const ack = await emitAck(aliceSocket, 'send_message', { chatId, fileId: file.fileId, type: 'IMAGE' });
    assertAckOk(ack);
    const m = await received;
    assert.equal(m.type, 'IMAGE');
    assert.equal(m.fileId, file.fileId);
    assert.equal(m.attachmentMimeType, 'image/png');
    assert.equal(m.attachmentName, 'cat.png');
    const shown = await fetchFile(m.attachmentUrl);
    assert.equal(shown.status, 200);
    assert.equal(shown.type, 'image/png');
    assert.deepEqual(shown.bytes, PNG);
    assert.equal((await fetchFile(`/api/v1/chat/files/${file.fileId}`, mallory.token)).status, 403);
    assert.equal((await fetchFile(`/api/v1/chat/files/${file.fileId}`, bob.token)).status, 200);

    // The same file cannot be sent by another member, nor be named in another chat.
    const stolen = await emitAck(bobSocket, 'send_message', { chatId, fileId: file.fileId });
    assertAckError(stolen, 'VALIDATION');
    const elsewhere = await openChat(alice, mallory);
    assertAckError(await emitAck(aliceSocket, 'send_message', { chatId: elsewhere, fileId: file.fileId }), 'VALIDATION');
    const page = await history(bob, chatId);
    const stored = page.messages.find((x) => x.id === m.id);
    assert.equal((await fetchFile(stored.attachmentUrl)).status, 200);
  });
}

test('a file sent over REST, a voice message, and uploads refused for outsiders and false types', async () => {
  const alice = newUser();
  const bob = newUser();
  const mallory = newUser();
  const chatId = await openChat(alice, bob);
  const notes = assertRestOk(await attach(alice, chatId, Buffer.from('meeting notes'), 'notes.txt', 'text/plain'), 201);
  assert.equal(notes.type, 'FILE');
  const sent = await restSend(alice, chatId, { fileId: notes.fileId, content: 'the notes' });
  assert.equal(sent.type, 'FILE');
  assert.equal(sent.content, 'the notes');
  assert.equal(sent.attachmentName, 'notes.txt');
  assert.equal((await fetchFile(sent.attachmentUrl)).status, 200);

  const refused = await attach(mallory, chatId);
  assert.equal(refused.status, 403, refused.text);
  const mislabelled = await attach(alice, chatId, Buffer.from('not a picture'), 'photo.png', 'image/png');
  assert.equal(mislabelled.status, 415, mislabelled.text);
  assert.equal(mislabelled.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
});
