// Talks to `ocelle-cli serve` with the official `openai` npm package, one case per run:
//   node openai_client.cjs CASE BASE_URL API_KEY MODEL [FILE]
// Prints what it checked; exits non-zero (with the reason) when a check fails.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const [kase, baseURL, apiKey, model, file] = process.argv.slice(2);
const { OpenAI } = require(path.join(process.env.OCELLE_OPENAI_NPM_DIR, 'node_modules', 'openai'));
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120000 });

async function streamed(request) {
  const stream = await client.chat.completions.create({ ...request, stream: true,
                                                        stream_options: { include_usage: true } });
  const out = { content: '', chunks: 0, finish: null, usage: null, first: 0, last: 0 };
  for await (const chunk of stream) {
    const now = Date.now();
    if (!out.first) out.first = now;
    out.last = now;
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      out.chunks += 1;
      out.content += choice.delta.content ?? '';
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

const cases = {
  async models() {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.deepEqual(ids, [model]);
    console.log('models:', ids.join(','));
  },

  async chat() {
    const answer = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 6, seed: 7, temperature: 0.7 });
    const choice = answer.choices[0];
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(choice.message.content.length > 0, 'empty answer');
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    assert.ok(answer.usage.prompt_tokens > 0 && answer.usage.completion_tokens > 0);
    assert.ok(answer.usage.completion_tokens <= 6);
    assert.equal(answer.usage.total_tokens, answer.usage.prompt_tokens + answer.usage.completion_tokens);
    // The same request streamed gives the same answer (same seed, same prompt).
    const again = await streamed({ model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 6,
                                   seed: 7, temperature: 0.7 });
    assert.equal(again.content, choice.message.content);
    assert.equal(again.finish, choice.finish_reason);
    assert.deepEqual(again.usage, answer.usage);
    assert.ok(again.chunks >= 2, 'the answer came in one piece');
    console.log('chat:', JSON.stringify(choice.message.content), 'streamed in', again.chunks, 'chunks');
  },

  async audio() {
    const data = fs.readFileSync(file).toString('base64');
    const text = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'What is said?' }], max_tokens: 2, seed: 1 });
    const heard = await client.chat.completions.create({
      model, max_tokens: 2, seed: 1,
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format: 'wav' } },
                                           { type: 'text', text: 'What is said?' }] }] });
    // The clip's soft tokens (25 a second) are in the prompt.
    const extra = heard.usage.prompt_tokens - text.usage.prompt_tokens;
    assert.ok(extra >= 10, `the audio added only ${extra} prompt tokens`);
    console.log('audio: prompt grew by', extra, 'tokens');
  },

  async wrongKey() {
    const intruder = new OpenAI({ baseURL, apiKey: 'not-the-key', maxRetries: 0 });
    await assert.rejects(intruder.models.list(), (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      return true;
    });
    console.log('wrongKey: 401 invalid_api_key');
  },

  async badRequest() {
    await assert.rejects(
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], temperature: 7 }),
      (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /temperature/);
        return true;
      });
    console.log('badRequest: 400 naming temperature');
  },

  // Two clients at once: both are answered, one after the other (the second waits in the queue).
  async concurrent() {
    const ask = (content) => streamed({ model, messages: [{ role: 'user', content }], max_tokens: 12, seed: 3 });
    const [a, b] = await Promise.all([ask('First client.'), ask('Second client.')]);
    for (const r of [a, b]) {
      assert.ok(r.content.length > 0);
      assert.ok(r.usage && r.usage.completion_tokens > 0);
    }
    const [early, late] = a.first <= b.first ? [a, b] : [b, a];
    assert.ok(late.first >= early.last, 'the two answers were generated at the same time, not queued');
    console.log('concurrent: both answered, the second after the first');
  },
};

cases[kase]().catch((e) => {
  console.error(`${kase}: ${e.stack || e}`);
  process.exit(1);
});
