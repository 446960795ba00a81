import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../src/policy/glob.js';
import { parseRateRule, RateLimiter } from '../../src/policy/rateLimiter.js';
import { ToolPolicy } from '../../src/policy/toolPolicy.js';

const policy = (o: Partial<ConstructorParameters<typeof ToolPolicy>[0]>) =>
  new ToolPolicy({ allow: [], deny: [], denyDestructive: false, readOnly: false, ...o });

describe('tool policy', () => {
  it('globs match whole names, literally except * and ?', () => {
    expect(globToRegExp('fs.*').test('fs.read')).toBe(true);
    expect(globToRegExp('fs.*').test('fsxread')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('abbc')).toBe(false);
  });
  it('deny wins over a broad allow', () => {
    const p = policy({ allow: ['*'], deny: ['delete_*'] });
    expect(p.check('delete_repo', undefined, true)).toEqual({ refusedBy: '--deny-tool delete_*' });
    expect(p.check('read_repo', undefined, true)).toBeUndefined();
  });
  it('with allow rules, an unmatched tool is refused', () => {
    expect(policy({ allow: ['echo'] }).check('add', undefined, true)?.refusedBy).toMatch(/--allow-tool/);
  });
  it('annotation rules fail closed for tools never described', () => {
    const p = policy({ denyDestructive: true });
    expect(p.check('x', undefined, false)?.refusedBy).toMatch(/has not described/);
    expect(p.check('x', { destructiveHint: true }, true)?.refusedBy).toMatch(/destructiveHint/);
    expect(p.check('x', { destructiveHint: false }, true)).toBeUndefined();
    const ro = policy({ readOnly: true });
    expect(ro.check('x', {}, true)?.refusedBy).toMatch(/--read-only/);
    expect(ro.check('x', { readOnlyHint: true }, true)).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('parses N and glob=N', () => {
    expect(parseRateRule('10')).toEqual({ glob: undefined, perMinute: 10 });
    expect(parseRateRule('search_*=2')).toEqual({ glob: 'search_*', perMinute: 2 });
    expect(parseRateRule('0')).toBeUndefined();
    expect(parseRateRule('x=y')).toBeUndefined();
  });
  it('refuses over budget within a minute and recovers after it', () => {
    const l = new RateLimiter([{ perMinute: 3 }, { glob: 'slow', perMinute: 1 }]);
    expect(l.take('echo', 0)).toBeUndefined();
    expect(l.take('slow', 1)).toBeUndefined();
    expect(l.take('slow', 2)?.limitedBy).toBe('--max-calls-per-minute slow=1');
    expect(l.take('echo', 3)).toBeUndefined();
    // the refused slow call did not spend the global budget: echo, slow, echo = 3
    expect(l.take('echo', 4)?.limitedBy).toBe('--max-calls-per-minute 3');
    expect(l.take('echo', 60_001)).toBeUndefined();
  });
});
