import { BACKSLASH, CLOSE_ARR, CLOSE_OBJ, COLON, COMMA, OPEN_ARR, OPEN_OBJ, QUOTE } from './jsonBytes.js';

/**
 * The first key that appears twice in one object of a JSON text, or undefined when there is none.
 * The text must already be valid JSON (JSON.parse accepted it): JSON.parse keeps the last of two
 * equal keys while another reader may keep the first, so a message with a duplicate key can mean
 * two different things. Keys are compared as decoded strings ("\u0069d" is "id"). Iterative, so
 * nesting depth costs heap, not stack.
 */
export function findDuplicateKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i + 1);
      if (end === -1) return undefined; // not valid JSON after all: JSON.parse is the judge
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const rawKey = text.slice(i + 1, end);
        const key = rawKey.includes('\\') ? (JSON.parse(`"${rawKey}"`) as string) : rawKey;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJ) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === OPEN_ARR) {
      stack.push(null);
      expectKey = false;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack[stack.length - 1] !== null && stack.length > 0;
    } else if (c === COLON) {
      expectKey = false;
    }
    i++;
  }
  return undefined;
}

/** Index of the quote that closes the string whose content starts at from, or -1. */
function closingQuote(text: string, from: number): number {
  let pos = from;
  for (;;) {
    const q = text.indexOf('"', pos);
    if (q === -1) return -1;
    let bs = 0;
    for (let k = q - 1; k >= from && text.charCodeAt(k) === BACKSLASH; k--) bs++;
    if (bs % 2 === 0) return q;
    pos = q + 1;
  }
}
