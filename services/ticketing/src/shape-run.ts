import type { Font, Glyph } from 'fontkit';
import { mirrored } from './text-runs.ts';

/**
 * Shapes one run with fontkit (OpenType substitution and positioning: Arabic joining, Indic
 * reordering and conjuncts, mark placement, kerning) and works out which text each glyph stands for.
 *
 * Text extraction reads glyphs in drawing order and maps each through ToUnicode; shaping breaks the
 * one-glyph-one-character picture (Devanagari draws the i-matra before its consonant, a conjunct is
 * one glyph for three characters, Noto Arabic splits a letter's dots into glyphs of their own). So
 * each cluster's text is handed out to its glyphs in drawing order, and extraction reads the text
 * back in logical order whatever the shaper did inside the cluster. A glyph left without text (a
 * split-off dot) is drawn as an outline, not as text, so no extractor reads anything into the word.
 * PDF.js (pdf-parse, Firefox) counts a glyph whose text holds a nonspacing mark (Mn) as zero-width
 * and loses its place after one that advances, so such marks ride on an inkless zero-width
 * "carrier" glyph drawn right after the glyph they belong to.
 */
export interface ShapedGlyph {
  glyph: Glyph;
  /** What extraction should read for this glyph; empty for one drawn as an outline. */
  text: string;
  /** In font units, from fontkit's positioning. */
  xAdvance: number;
  xOffset: number;
  yOffset: number;
}

export interface ShapedRun {
  /** Left to right, as drawn. */
  glyphs: ShapedGlyph[];
  /** Sum of the advances, in font units. */
  advance: number;
}

const isMark = (char: string) => /\p{Mn}/u.test(char);

/** A character with the nonspacing marks that follow it: the smallest piece a glyph is given. */
const units = (chars: string[]): string[] =>
  chars.reduce<string[]>((out, char) => {
    if (isMark(char) && out.length > 0) out[out.length - 1] += char;
    else out.push(char);
    return out;
  }, []);

const isIgnorable = (char: string) => /\p{Default_Ignorable_Code_Point}/u.test(char);

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Offsets (in code points) where a grapheme cluster ends. A shaping cluster ends only there: in
 * र्रा the reph's र would otherwise pair with the consonant's glyph and split the syllable.
 */
const graphemeEnds = (chars: string[]): Set<number> => {
  const ends = new Set<number>();
  let offset = 0;
  for (const { segment } of graphemes.segment(chars.join(''))) ends.add((offset += [...segment].length));
  return ends;
};

/**
 * Groups glyphs (in logical order, given by their code points) and characters into clusters, the
 * shortest grapheme-aligned spans whose glyphs' code points are the span's characters, and returns each
 * glyph's share of its cluster's text: one unit each in order, the last glyph the rest, a glyph
 * left over nothing. Default ignorables (joiners) steer shaping but are not read back: PDF.js drops
 * a glyph whose text ends in one.
 */
const clusterTexts = (glyphs: number[][], shaped: string[], original: string[]): string[] => {
  const texts: string[] = [];
  const balance = new Map<number, number>();
  let open = 0;
  const bump = (codePoint: number, by: number) => {
    const before = balance.get(codePoint) ?? 0;
    balance.set(codePoint, before + by);
    open += (before + by !== 0 ? 1 : 0) - (before !== 0 ? 1 : 0);
  };
  const share = (glyphCount: number, from: number, to: number) => {
    const chars = original.slice(from, to).filter((char) => !isIgnorable(char));
    // A mark gets a glyph of its own when there are enough (अं: the anusvara glyph reads ं).
    const pieces = glyphCount >= chars.length ? chars : units(chars);
    for (let k = 0; k < glyphCount; k++) {
      texts.push((k === glyphCount - 1 ? pieces.slice(k).join('') : pieces[k]) ?? '');
    }
  };
  const pending = (char: string | undefined) => char !== undefined && (isIgnorable(char) || (balance.get(char.codePointAt(0) ?? -1) ?? 0) > 0);
  const ends = graphemeEnds(original);
  let char = 0;
  let clusterGlyphs = 0;
  let clusterStart = 0;
  for (const codePoints of glyphs) {
    for (const codePoint of codePoints) bump(codePoint, 1);
    clusterGlyphs++;
    for (; pending(shaped[char]); char++) if (!isIgnorable(shaped[char] ?? '')) bump(shaped[char]?.codePointAt(0) ?? -1, -1);
    if (open === 0 && ends.has(char)) {
      share(clusterGlyphs, clusterStart, char);
      clusterGlyphs = 0;
      clusterStart = char;
    }
  }
  // What the balance cannot follow joins one last cluster.
  if (clusterGlyphs > 0) share(clusterGlyphs, clusterStart, shaped.length);
  else if (char < shaped.length && texts.length > 0) texts[texts.length - 1] += original.slice(char).join('');
  return texts;
};

/**
 * fontkit caches one Glyph object per id, with the code points of its first use, and returns that
 * from layout: once Noto Arabic splits off the dots, ه and ة are one glyph and the second would
 * claim the first's character. During this layout every glyph is a view with its own code points.
 */
const layoutWithCodePoints = (font: Font, text: string, rtl: boolean) => {
  const shared = font.getGlyph;
  font.getGlyph = (id, codePoints = []) => Object.create(shared.call(font, id), { codePoints: { value: codePoints } }) as Glyph;
  const layout = (features: Record<string, boolean>) => font.layout(text, features, undefined, undefined, rtl ? 'rtl' : 'ltr');
  try {
    // Unicode mirroring (done by the caller) replaces the font's rtlm, as HarfBuzz does.
    try {
      return layout({ rtlm: false });
    } catch {
      // fontkit 2.0.4 throws attaching a mark to a base without an anchor (Arabic ُ after a space):
      // such a mark keeps its default place rather than failing the ticket.
      return layout({ rtlm: false, mark: false, mkmk: false });
    }
  } finally {
    Reflect.deleteProperty(font, 'getGlyph');
  }
};

/** The glyph as drawn, followed (in logical order) by a carrier for its marks if it advances. */
const withCarrier = (font: Font, shaped: ShapedGlyph): ShapedGlyph[] => {
  const chars = [...shaped.text];
  const firstMark = chars.findIndex(isMark);
  if (shaped.xAdvance === 0 || firstMark < 0) return [shaped];
  const carrier = { glyph: font.glyphForCodePoint(0x20), text: chars.slice(firstMark).join(''), xAdvance: 0, xOffset: 0, yOffset: 0 };
  return [{ ...shaped, text: chars.slice(0, firstMark).join('') }, carrier];
};

export const shapeRun = (font: Font, text: string, rtl: boolean): ShapedRun => {
  const original = [...text];
  const shaped = rtl ? original.map(mirrored) : original;
  const run = layoutWithCodePoints(font, shaped.join(''), rtl);
  // fontkit returns a right-to-left run already reversed into drawing order; texts go logical.
  const logical = run.glyphs.map((glyph, i) => ({ glyph, position: run.positions[i] }));
  if (rtl) logical.reverse();
  const space = font.glyphForCodePoint(0x20).id;
  // fontkit draws a default ignorable as an empty space glyph; it stands for no character.
  const codePoints = logical.map(({ glyph, position }) => (glyph.id === space && position?.xAdvance === 0 ? [] : glyph.codePoints));
  const texts = clusterTexts(codePoints, shaped, original);
  const glyphs = logical.flatMap(({ glyph, position }, i) =>
    withCarrier(font, { glyph, text: texts[i] ?? '', xAdvance: position?.xAdvance ?? 0, xOffset: position?.xOffset ?? 0, yOffset: position?.yOffset ?? 0 }),
  );
  // PDF text is visual: extraction reverses a right-to-left run as a whole, each glyph's text with it.
  const drawn = rtl ? glyphs.reverse().map((g) => ({ ...g, text: [...g.text].reverse().join('') })) : glyphs;
  return { glyphs: drawn, advance: drawn.reduce((sum, g) => sum + g.xAdvance, 0) };
};
