import {
  beginText,
  endText,
  popGraphicsState,
  pushGraphicsState,
  rgb,
  setFillingRgbColor,
  setFontAndSize,
  setTextMatrix,
  showText,
  type PDFDocument,
  type PDFName,
  type PDFOperator,
  type PDFPage,
} from 'pdf-lib';
import { codeString, createPdfFont, type PdfFont } from './pdf-font.ts';
import { shapeRun, type ShapedRun } from './shape-run.ts';
import { loadFont, type Face, type Weight } from './ticket-fonts.ts';
import { textRuns, visualOrder } from './text-runs.ts';

export interface TextStyle {
  size: number;
  weight: Weight;
  color: readonly [number, number, number];
}

/**
 * Draws lines of text in any script on one page: runs by font and direction, shaped, placed in
 * visual order. Runs are drawn in logical order (each at its visual place), because PDF.js (so
 * pdf-parse, and Firefox's find) reads a line in drawing order, run by run.
 */
export interface TextPainter {
  /** Width of one line in points. */
  width(text: string, style: Pick<TextStyle, 'size' | 'weight'>): number;
  draw(text: string, at: { x: number; y: number } & TextStyle): void;
  /** Embeds the fonts the page used; call once, before saving the document. */
  finish(): void;
}

interface Piece {
  face: Face;
  shaped: ShapedRun;
  unitsPerEm: number;
  /** Left edge, in ems from the start of the line. */
  x: number;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

const layoutLine = (text: string, weight: Weight): { pieces: Piece[]; width: number } => {
  const runs = textRuns(text, weight);
  const pieces = runs.map((run): Piece => {
    const font = loadFont(run.face, weight);
    return { face: run.face, shaped: shapeRun(font, run.text, run.level % 2 === 1), unitsPerEm: font.unitsPerEm, x: 0 };
  });
  let x = 0;
  for (const i of visualOrder(runs.map((run) => run.level))) {
    const piece = pieces[i];
    if (!piece) continue;
    piece.x = x;
    x += piece.shaped.advance / piece.unitsPerEm;
  }
  return { pieces, width: x };
};

/**
 * Shows a run at `x, y`. Codes carry the shaped advances, so a stretch of glyphs is one Tj; a glyph
 * the shaper offsets (a mark) is placed on its own with an absolute text matrix, and the stretch
 * after it starts afresh at the pen: PDF.js and poppler then see every glyph where it is drawn.
 * Glyphs without text come back as outlines to fill outside the text object.
 */
const showRun = (font: PdfFont, shaped: ShapedRun, size: number, x: number, y: number) => {
  const scale = size / font.unitsPerEm;
  const operators: PDFOperator[] = [];
  const outlines: Array<{ path: string; x: number; y: number; scale: number }> = [];
  let codes: number[] = [];
  let pen = 0;
  const flush = () => {
    if (codes.length > 0) operators.push(showText(codeString(codes)));
    codes = [];
  };
  const moveTo = (dx: number, dy: number) => operators.push(setTextMatrix(1, 0, 0, 1, round(x + dx * scale), round(y + dy * scale)));
  for (const g of shaped.glyphs) {
    if (g.text === '') {
      // pdf-lib's SVG path reader expects y to grow downwards.
      const path = g.glyph.path.scale(1, -1).toSVG();
      if (path) outlines.push({ path, x: x + (pen + g.xOffset) * scale, y: y + g.yOffset * scale, scale });
      if (g.xAdvance) flush();
    } else if (g.xOffset || g.yOffset) {
      flush();
      moveTo(pen + g.xOffset, g.yOffset);
      operators.push(showText(codeString([font.code(g.glyph, g.text, g.xAdvance)])));
    } else {
      if (codes.length === 0) moveTo(pen, 0);
      codes.push(font.code(g.glyph, g.text, g.xAdvance));
    }
    pen += g.xAdvance;
  }
  flush();
  return { operators, outlines };
};

export const createTextPainter = (doc: PDFDocument, page: PDFPage): TextPainter => {
  const fonts = new Map<string, { font: PdfFont; name: PDFName }>();
  // Fitting measures a line before drawing it: shape it once.
  const lines = new Map<string, ReturnType<typeof layoutLine>>();
  const layout = (text: string, weight: Weight) => {
    const key = `${weight}:${text}`;
    let line = lines.get(key);
    if (!line) lines.set(key, (line = layoutLine(text, weight)));
    return line;
  };
  const fontFor = (face: Face, weight: Weight) => {
    const key = `${face}/${weight}`;
    let entry = fonts.get(key);
    if (!entry) {
      const font = createPdfFont(doc, loadFont(face, weight));
      entry = { font, name: page.node.newFontDictionary(key.replace('/', '-'), font.ref) };
      fonts.set(key, entry);
    }
    return entry;
  };

  const draw: TextPainter['draw'] = (text, { x, y, size, weight, color }) => {
    const operators = [pushGraphicsState(), setFillingRgbColor(...color)];
    const outlines: ReturnType<typeof showRun>['outlines'] = [];
    for (const piece of layout(text, weight).pieces) {
      const { font, name } = fontFor(piece.face, weight);
      const shown = showRun(font, piece.shaped, size, x + piece.x * size, y);
      if (shown.operators.length > 0) operators.push(beginText(), setFontAndSize(name, size), ...shown.operators, endText());
      outlines.push(...shown.outlines);
    }
    page.pushOperators(...operators, popGraphicsState());
    for (const { path, ...at } of outlines) page.drawSvgPath(path, { ...at, color: rgb(...color) });
  };

  return {
    width: (text, { size, weight }) => layout(text, weight).width * size,
    draw,
    finish: () => fonts.forEach(({ font }) => font.finish()),
  };
};
