import bidiModule from 'bidi-js';
import { cjkFacesFor, faceFor, type Face, type Weight } from './ticket-fonts.ts';

/**
 * Splits a line of text into runs that one font shapes in one direction: a new run starts where
 * the face or the bidi embedding level changes. Runs come in logical (reading) order, each with
 * its level; `visualOrder` says where each one goes on the line.
 */
export interface TextRun {
  text: string;
  face: Face;
  /** Unicode bidi embedding level: odd is right to left. */
  level: number;
}

// bidi-js is UMD: its types declare an ES default export, Node hands ES importers module.exports.
const bidi = (bidiModule as unknown as typeof bidiModule.default)();

/** The mirror image of a bracket-like character, for right-to-left text (rule L4 of UAX #9). */
export const mirrored = (char: string): string => bidi.getMirroredCharacter(char) ?? char;

/** Wraps text in a first-strong isolate, so a name takes its own direction inside a label's line. */
export const isolate = (text: string): string => `\u2068${text}\u2069`;

const isBidiControl = (char: string) => /\p{Bidi_Control}/u.test(char);

/** The face of each character: undefined for bidi controls and for what no face can draw. */
const faces = (chars: string[], weight: Weight): Array<Face | undefined> => {
  const around = { cjk: cjkFacesFor(chars.join('')) };
  // A character with a script of its own picks its face alone; the rest lean on their neighbours.
  const own = chars.map((char) => (/[\p{sc=Zyyy}\p{sc=Zinh}]/u.test(char) ? undefined : faceFor(char, weight, around)));
  const next: Array<Face | undefined> = [];
  for (let i = chars.length - 1; i >= 0; i--) next[i] = own[i + 1] ?? next[i + 1];
  const result: Array<Face | undefined> = [];
  let kept: Face | undefined;
  chars.forEach((char, i) => {
    // A mark or joiner follows the very character before it, dropped (an emoji's) or not.
    const prev = /\p{sc=Zinh}/u.test(char) ? result[i - 1] : kept;
    const face = isBidiControl(char) ? undefined : (own[i] ?? faceFor(char, weight, { ...around, prev, next: next[i] }));
    result.push(face);
    kept = face ?? kept;
  });
  return result;
};

export const textRuns = (text: string, weight: Weight): TextRun[] => {
  const chars = [...text.normalize('NFC')];
  const chosen = faces(chars, weight);
  // Characters no font can draw (emoji, scripts without a face) are dropped, never shown as boxes.
  const kept = chars.map((char, i) => ({ char, face: chosen[i] })).filter(({ char, face }) => face || isBidiControl(char));
  const { levels } = bidi.getEmbeddingLevels(kept.map(({ char }) => char).join(''));
  const runs: TextRun[] = [];
  let offset = 0;
  kept.forEach(({ char, face }) => {
    const level = levels[offset] ?? 0;
    offset += char.length;
    // Isolates and embeddings have done their work once the levels are known; they draw nothing.
    if (!face) return;
    const last = runs.at(-1);
    if (last && last.face === face && last.level === level) last.text += char;
    else runs.push({ text: char, face, level });
  });
  return runs;
};

/** Indices of `levels` in left-to-right display order (rule L2 of UAX #9, applied to whole runs). */
export const visualOrder = (levels: readonly number[]): number[] => {
  const order = levels.map((_, i) => i);
  const highest = Math.max(0, ...levels);
  const lowestOdd = Math.min(...levels.filter((level) => level % 2 === 1), highest + 1);
  for (let level = highest; level >= lowestOdd; level--) {
    for (let start = 0; start < order.length; ) {
      if ((levels[order[start] ?? 0] ?? 0) < level) {
        start++;
        continue;
      }
      let end = start;
      while (end < order.length && (levels[order[end] ?? 0] ?? 0) >= level) end++;
      order.splice(start, end - start, ...order.slice(start, end).reverse());
      start = end;
    }
  }
  return order;
};
