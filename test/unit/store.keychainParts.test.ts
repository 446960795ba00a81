import { describe, expect, it } from 'vitest';
import { PART_MAX_CHARS, asciiJson, isReservedAccount, parseManifest, sha256Hex, splitIntoParts } from '../../src/store/keychainParts.js';
import { keyringFailure } from '../../src/store/keyringFailure.js';

describe('keychain part layout', () => {
  it('serialises to ASCII-only JSON that parses back to the same value', () => {
    const value = { name: 'Zoë Ørsted 😀', token: 'abc', n: 1 };
    const text = asciiJson(value) ?? '';
    expect(/^[\x00-\x7f]*$/.test(text)).toBe(true);
    expect(JSON.parse(text)).toEqual(value);
    expect(asciiJson(undefined)).toBeUndefined();
  });

  it('splits into parts that fit 2,560 bytes as UTF-8 and as UTF-16 and join back exactly', () => {
    const text = asciiJson({ t: 'x'.repeat(12_345), u: '😀'.repeat(500) }) ?? '';
    const parts = splitIntoParts(text);
    expect(parts.join('')).toBe(text);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(PART_MAX_CHARS);
      expect(Buffer.byteLength(part, 'utf8')).toBeLessThanOrEqual(2_560);
      expect(Buffer.byteLength(part, 'utf16le')).toBeLessThanOrEqual(2_560);
    }
    expect(splitIntoParts('')).toEqual(['']);
  });

  it('accepts only well-formed manifests', () => {
    const sha256 = sha256Hex('x');
    expect(parseManifest(JSON.stringify({ v: 1, parts: 3, sha256 }))).toEqual({ v: 1, parts: 3, sha256 });
    expect(parseManifest(JSON.stringify({ v: 1, parts: 0, sha256, inline: '{}' }))).toEqual({ v: 1, parts: 0, sha256, inline: '{}' });
    for (const bad of ['{', 'null', '[]', JSON.stringify({ v: 2, parts: 3, sha256 }), JSON.stringify({ v: 1, parts: 0, sha256 }), JSON.stringify({ v: 1, parts: 1e6, sha256 }), JSON.stringify({ v: 1, parts: 1, sha256: 'zz' })]) {
      expect(parseManifest(bad)).toBeUndefined();
    }
  });

  it('reserves part and probe account names', () => {
    expect(isReservedAccount('k#part0')).toBe(true);
    expect(isReservedAccount('mcp-keybridge#probe')).toBe(true);
    expect(isReservedAccount('https://gw.example/mcp#frag|client')).toBe(false);
  });
});

describe('keyring failure classification (messages as measured from @napi-rs/keyring 2.1.2 on Linux)', () => {
  const code = (message: string) => keyringFailure('read x', new Error(message), 'linux').code;
  it('maps each observed failure to an actionable code', () => {
    expect(code('Platform failure: DBus error: Failed to connect to socket /tmp/nonexistent: No such file or directory')).toBe('store_missing');
    expect(code('Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead')).toBe('store_missing');
    expect(code("zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such file or directory (os error 2)")).toBe('store_missing');
    expect(code("Couldn't access platform storage: Secret Service: unlock prompt was dismissed")).toBe('store_locked');
    expect(code('zbus error: org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object')).toBe('store_locked');
    expect(code('Platform failure: DBus error: Did not receive a reply. Possible causes include: the remote application did not send a reply')).toBe('store_timeout');
    expect(code('something new')).toBe('store_unavailable');
    expect(keyringFailure('read x', new Error('something new'), 'linux').message).toContain('--token-store file');
  });
});
