import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, LineBytes } from '../../../src/audit/line-bytes.js';

describe('LineBytes', () => {
  it('hands over, as UTF-8, every line added since the last take, in order', () => {
    const bytes = new LineBytes();
    expect(bytes.take().length).toBe(0);
    bytes.add('{"a":"ü"}\n');
    bytes.add('{"b":"€ 😀"}\n');
    expect(bytes.take().toString('utf8')).toBe('{"a":"ü"}\n{"b":"€ 😀"}\n');
    bytes.add('{"c":3}\n');
    expect(bytes.take().toString('utf8')).toBe('{"c":3}\n');
    expect(bytes.take().length).toBe(0);
  });

  it('never writes again over bytes it handed over, within a chunk and across a new one', () => {
    const bytes = new LineBytes();
    const line = (i: number) => `{"n":${i},"pad":"${'é'.repeat(i % 500)}"}\n`;
    const taken: { text: string; buffer: Buffer }[] = [];
    let text = '';
    // Several chunks' worth, taken at uneven points, each checked after everything was added.
    for (let i = 0; i < 2_000; i++) {
      bytes.add(line(i));
      text += line(i);
      if (i % 37 === 0) {
        taken.push({ text, buffer: bytes.take() });
        text = '';
      }
    }
    taken.push({ text, buffer: bytes.take() });
    expect(taken.reduce((n, t) => n + t.buffer.length, 0)).toBeGreaterThan(3 * CHUNK_BYTES);
    for (const t of taken) expect(t.buffer.toString('utf8')).toBe(t.text);
  });

  it('holds a line longer than a chunk whole, and lines after it', () => {
    const bytes = new LineBytes();
    const long = `{"url":"${'😀'.repeat(CHUNK_BYTES)}"}\n`;
    bytes.add('{"first":1}\n');
    bytes.add(long);
    bytes.add('{"last":1}\n');
    expect(bytes.take().toString('utf8')).toBe(`{"first":1}\n${long}{"last":1}\n`);
  });

  it('fills a chunk to the last line that fits, so little of it is left unused', () => {
    const bytes = new LineBytes();
    const line = `{"pad":"${'x'.repeat(990)}"}\n`; // 1,000 bytes
    const fit = Math.floor(CHUNK_BYTES / line.length);
    for (let i = 0; i < fit; i++) bytes.add(line);
    const first = bytes.take();
    bytes.add(line);
    const next = bytes.take();
    // The lines that fit share one chunk; the next starts another.
    expect(first.buffer).not.toBe(next.buffer);
    expect(first.byteOffset + first.length).toBe(fit * line.length);
    expect(first.buffer.byteLength).toBe(CHUNK_BYTES);
  });
});
