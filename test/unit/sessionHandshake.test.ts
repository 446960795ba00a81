import { describe, expect, it } from 'vitest';
import { SessionHandshake } from '../../src/remote/sessionHandshake.js';

const initialize = (id: number | string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18' } });
const answer = (id: number | string, protocolVersion?: unknown) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, result: { protocolVersion } }));

describe('SessionHandshake', () => {
  it('knows the IDE initialize until its answer names a version, and keeps that version', () => {
    const h = new SessionHandshake();
    expect(h.isInitialize(1)).toBe(false); // no initialize yet
    h.begin(initialize(7));
    expect(h.isInitialize(7)).toBe(true);
    expect(h.isInitialize(8)).toBe(false);
    expect(h.isInitialize('7')).toBe(false);
    h.noteResult(answer(7, '2025-06-18'));
    expect(h.protocolVersion).toBe('2025-06-18');
    expect(h.isInitialize(7)).toBe(false); // answered
  });

  it('ignores an answer that is not JSON or names no string version', () => {
    const h = new SessionHandshake();
    h.begin(initialize('a'));
    h.noteResult(Buffer.from('not json'));
    h.noteResult(answer('a', 20250618));
    h.noteResult(answer('a'));
    expect(h.protocolVersion).toBeUndefined();
    expect(h.isInitialize('a')).toBe(true);
  });

  it('starts over on a new initialize, and negotiates again when the session is re-created', () => {
    const h = new SessionHandshake();
    h.begin(initialize(1));
    h.noteResult(answer(1, '2025-03-26'));
    h.initializedRaw = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
    h.restart();
    expect(h.protocolVersion).toBeUndefined();
    expect(h.isInitialize(1)).toBe(true);
    expect(h.initializeRaw).toBe(initialize(1)); // kept for the replay
    expect(h.initializedRaw).toContain('notifications/initialized');
    h.begin(initialize(2));
    expect(h.isInitialize(1)).toBe(false);
    expect(h.isInitialize(2)).toBe(true);
  });

  it('never takes a line it cannot parse for an initialize', () => {
    const h = new SessionHandshake();
    h.begin('{not json');
    expect(h.isInitialize(1)).toBe(false);
  });
});
