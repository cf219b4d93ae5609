// Duplicate-key detection for JSON text. JSON.parse silently keeps the last of two equal keys, so a
// safetensors header could name a tensor twice and hide one entry. We run this scan *after* JSON.parse
// accepted the text (so it only needs to find tokens, not validate grammar); keys are compared after
// unescaping ("a" and "\u0061" are the same key). Iterative with an explicit stack: no recursion limit.

export interface DuplicateKey {
  /** the repeated key */
  key: string;
  /** keys of the enclosing objects, outermost first ([] for a top-level duplicate) */
  path: string[];
}

interface Frame {
  /** null for an array */
  keys: Set<string> | null;
  /** last key read in this object (the path component for nested values) */
  lastKey: string;
  expectingKey: boolean;
}

/** The first duplicate key in `text` (already known to be valid JSON), or undefined. */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), lastKey: '', expectingKey: true });
      i++;
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: null, lastKey: '', expectingKey: false });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null) top.expectingKey = true;
      i++;
    } else if (c === 0x22 /* " */) {
      // find the closing quote, skipping escapes (valid JSON: every backslash starts an escape)
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c) { escaped = true; j += 2; } else j++;
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null && top.expectingKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) {
          return { key, path: stack.slice(0, -1).filter((f) => f.keys !== null).map((f) => f.lastKey) };
        }
        top.keys.add(key);
        top.lastKey = key;
        top.expectingKey = false;
      }
      i = j + 1;
    } else {
      i++; // whitespace, ':', numbers, true/false/null
    }
  }
  return undefined;
}
