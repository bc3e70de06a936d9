import type { TextPainter } from './draw-text.ts';
import type { Weight } from './ticket-fonts.ts';

/**
 * Fits text into a box width: one line, shrunk as far as `minSize` (a scanner-side search matches
 * a name only when it is whole), and wrapped at that size only when even that is too wide.
 */
export interface FitOptions {
  weight: Weight;
  maxWidth: number;
  maxSize: number;
  minSize: number;
}

const words = new Intl.Segmenter(undefined, { granularity: 'word' });
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export const fitText = (painter: TextPainter, text: string, options: FitOptions): { size: number; lines: string[] } => {
  const { weight, maxWidth, maxSize, minSize } = options;
  const unitWidth = painter.width(text, { size: 1, weight });
  if (unitWidth * minSize <= maxWidth) return { size: Math.min(maxSize, maxWidth / Math.max(unitWidth, 1e-6)), lines: [text] };
  const size = minSize;
  const fits = (line: string) => painter.width(line, { size, weight }) <= maxWidth;
  const lines: string[] = [];
  let line = '';
  const add = (piece: string) => {
    if (line === '' || fits(line + piece)) line += piece;
    else {
      lines.push(line.trimEnd());
      line = piece.trimStart();
    }
  };
  // Word segments (ICU splits Chinese and Japanese into words too); a word wider than the box
  // breaks between grapheme clusters, never inside one.
  for (const { segment } of words.segment(text)) {
    if (fits(segment)) add(segment);
    else for (const { segment: grapheme } of graphemes.segment(segment)) add(grapheme);
  }
  if (line.trim() !== '') lines.push(line.trimEnd());
  return { size, lines };
};
