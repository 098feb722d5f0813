// A webhook receiver for the notification tests. It verifies every delivery with the
// `standardwebhooks` npm package (the Standard Webhooks reference library, not apono's code),
// once with each secret it is given, and answers as its plan says. Each request becomes one JSON
// line on stdout; the first line is {"listening": PORT}.
//
// Environment:
//   APONO_WEB_DIR     web/, whose node_modules hold standardwebhooks
//   RECEIVER_SECRETS  JSON array of whsec_ secrets to verify with, each on its own
//   RECEIVER_PLAN     JSON object: path -> list of answers, used in turn per path (the last one
//                     repeats): "200", "500;retry-after=2", "200;delay=150" (answer after 150 ms),
//                     "hang" (never answer). Paths not in the plan get 200.
import {createServer} from 'node:http';
import {createRequire} from 'node:module';
import {join} from 'node:path';

const require = createRequire(join(process.env.APONO_WEB_DIR, 'package.json'));
const {Webhook} = require('standardwebhooks');

const secrets = JSON.parse(process.env.RECEIVER_SECRETS || '[]');
const plan = JSON.parse(process.env.RECEIVER_PLAN || '{}');
const verifiers = secrets.map((s) => new Webhook(s));
const turns = new Map();

function answerFor(path) {
  const list = plan[path];
  if (!list || list.length === 0) return {status: 200};
  const n = turns.get(path) ?? 0;
  turns.set(path, n + 1);
  const [head, ...opts] = list[Math.min(n, list.length - 1)].split(';');
  if (head === 'hang') return {hang: true};
  const out = {status: Number(head)};
  for (const o of opts) {
    const [k, v] = o.split('=');
    if (k === 'retry-after') out.retryAfter = v;
    if (k === 'delay') out.delay = Number(v);
  }
  return out;
}

const hung = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': req.headers['webhook-id'] ?? '',
      'webhook-timestamp': req.headers['webhook-timestamp'] ?? '',
      'webhook-signature': req.headers['webhook-signature'] ?? '',
    };
    const verified = verifiers.map((w) => {
      try {
        w.verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    let type = null;
    try {
      type = JSON.parse(body).type ?? null;
    } catch {
    }
    const answer = answerFor(req.url);
    const line = {
      path: req.url,
      method: req.method,
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signatures: headers['webhook-signature'].split(' ').filter((s) => s !== '').length,
      content_type: req.headers['content-type'] ?? '',
      verified,
      type,
      body,
      received_at: Date.now(),
      answer: answer.hang ? 'hang' : answer.status,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    if (answer.hang) {
      hung.push(res);
      return;
    }
    const send = () => {
      const h = {'content-type': 'text/plain'};
      if (answer.retryAfter) h['retry-after'] = answer.retryAfter;
      res.writeHead(answer.status, h);
      res.end('ok\n');
    };
    if (answer.delay)
      setTimeout(send, answer.delay);
    else
      send();
  });
});
server.keepAliveTimeout = 1000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({listening: server.address().port}) + '\n');
});
