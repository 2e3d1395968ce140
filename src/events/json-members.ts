/**
 * The members of a JSON object as the source text spells them, without re-serialising: a value
 * taken from here is byte for byte what the writer sent (integers beyond 2^53, `1.0`, key order
 * and spacing inside it all survive). Only for text that `JSON.parse` already accepted as an
 * object; a repeated key keeps its last value, as `JSON.parse` does.
 */
export function jsonMembers(objectText: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = skipSpace(objectText, 0);
  if (objectText[i] !== '{') throw new Error('not a JSON object');
  i = skipSpace(objectText, i + 1);
  if (objectText[i] === '}') return members;
  for (;;) {
    const keyEnd = endOfString(objectText, i);
    const key = JSON.parse(objectText.slice(i, keyEnd)) as string;
    i = skipSpace(objectText, keyEnd);
    i = skipSpace(objectText, i + 1); // ':'
    const valueEnd = endOfValue(objectText, i);
    members.set(key, objectText.slice(i, valueEnd));
    i = skipSpace(objectText, valueEnd);
    if (objectText[i] === '}') return members;
    i = skipSpace(objectText, i + 1); // ','
  }
}

function skipSpace(text: string, i: number): number {
  while (
    i < text.length &&
    (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')
  )
    i++;
  return i;
}

/** Index just past the string that opens at `i` (a '"'). */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  throw new Error('unterminated string');
}

/** Index just past the value that starts at `i`. */
function endOfValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return endOfString(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (c === '"') j = endOfString(text, j) - 1;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new Error('unterminated value');
  }
  // number, true, false, null: up to the next delimiter
  let j = i;
  while (j < text.length && !',}] \n\r\t'.includes(text[j]!)) j++;
  return j;
}
