import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { create, type Font } from 'fontkit';

/**
 * The fonts a ticket may use, and which one draws each character. Noto covers every script an
 * attendee is likely to write; each face is one script's font, so a ticket embeds (a subset of)
 * only the faces its text needs and a Latin-only ticket never carries a CJK font.
 */
export type Face = 'latin' | 'arabic' | 'hebrew' | 'devanagari' | 'sc' | 'jp' | 'kr';
export type Weight = 'regular' | 'bold';

// Google Fonts' Noto builds as TrueType (glyf) files: fontkit subsets those reliably, unlike CFF.
const FILES: Record<Face, [pkg: string, family: string]> = {
  latin: ['noto-sans', 'NotoSans'],
  arabic: ['noto-sans-arabic', 'NotoSansArabic'],
  hebrew: ['noto-sans-hebrew', 'NotoSansHebrew'],
  devanagari: ['noto-sans-devanagari', 'NotoSansDevanagari'],
  sc: ['noto-sans-sc', 'NotoSansSC'],
  jp: ['noto-sans-jp', 'NotoSansJP'],
  kr: ['noto-sans-kr', 'NotoSansKR'],
};
// The Dockerfile deletes every other weight from the image: add one there too.
const WEIGHTS: Record<Weight, string> = { regular: '400Regular', bold: '700Bold' };

const require = createRequire(import.meta.url);

// Per process, not per ticket: the renderer lives in a long-lived pool child, and a CJK face is
// megabytes to read and parse. A face is read the first time a ticket needs it.
const loaded = new Map<string, Font>();

export const loadFont = (face: Face, weight: Weight): Font => {
  const key = `${face}/${weight}`;
  let font = loaded.get(key);
  if (!font) {
    const [pkg, family] = FILES[face];
    const path = require.resolve(`@expo-google-fonts/${pkg}/${WEIGHTS[weight]}/${family}_${WEIGHTS[weight]}.ttf`);
    font = create(readFileSync(path)) as Font;
    loaded.set(key, font);
  }
  return font;
};

/**
 * Han ideographs are shared by Chinese, Japanese and Korean, with regional glyph forms: kana in the
 * same text marks a Japanese name, hangul a Korean one, anything else gets the Chinese forms.
 */
export const cjkFacesFor = (text: string): Face[] =>
  /[\p{sc=Hira}\p{sc=Kana}]/u.test(text) ? ['jp', 'sc', 'kr'] : /\p{sc=Hang}/u.test(text) ? ['kr', 'sc', 'jp'] : ['sc', 'jp', 'kr'];

export interface Neighbours {
  /** The face of the character before, if one was kept. */
  prev?: Face;
  /** The face of the next character that has a script of its own. */
  next?: Face;
  cjk: Face[];
}

/** Faces that may draw a character, best first; the first one with a glyph for it wins. */
export const candidateFaces = (char: string, around: Neighbours): Face[] => {
  // No colour emoji font is embedded: emoji are dropped rather than drawn as boxes.
  if (/\p{Emoji_Presentation}/u.test(char)) return [];
  if (/\p{sc=Arab}/u.test(char)) return ['arabic'];
  if (/\p{sc=Hebr}/u.test(char)) return ['hebrew'];
  if (/\p{sc=Deva}/u.test(char)) return ['devanagari'];
  if (/[\p{sc=Hani}\p{sc=Hira}\p{sc=Kana}\p{sc=Hang}\p{sc=Bopo}]/u.test(char)) return around.cjk;
  // Combining marks and joiners only make sense with the character they attach to.
  if (/\p{sc=Zinh}/u.test(char)) return around.prev ? [around.prev] : [];
  // Spaces, digits and punctuation stay in the run around them, so a name shapes as one piece.
  if (/\p{sc=Zyyy}/u.test(char)) return [...new Set([around.prev, around.next, 'latin' as const, ...around.cjk].filter((f) => f !== undefined))];
  // Fullwidth Latin and a few rare letters only the CJK fonts carry.
  if (/[\p{sc=Latn}\p{sc=Grek}\p{sc=Cyrl}]/u.test(char)) return ['latin', ...around.cjk];
  // Scripts without a face here (Thai, Bengali, ...): adding one is a package and a line in FILES.
  return [];
};

/** The face that draws `char`, or undefined when none has a glyph for it (the character is dropped). */
export const faceFor = (char: string, weight: Weight, around: Neighbours): Face | undefined => {
  const codePoint = char.codePointAt(0) ?? 0;
  return candidateFaces(char, around).find((face) => loadFont(face, weight).hasGlyphForCodePoint(codePoint));
};
