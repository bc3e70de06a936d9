import { createHash } from 'node:crypto';
import type { Font, Glyph } from 'fontkit';
import { PDFHexString, PDFName, PDFString, type PDFDocument, type PDFRef } from 'pdf-lib';

/**
 * A subset TrueType font embedded as a Type0/CIDFontType2 font, written by hand rather than with
 * pdf-lib's embedFont. pdf-lib's embedder shows one code per glyph and derives ToUnicode from the
 * glyph alone, so a glyph shared by two contexts (Arabic ه and ة once their dots are split off)
 * extracts wrongly, and it drops fontkit's positions. Here every (glyph, text, advance) gets a code
 * of its own: CIDToGIDMap points codes at glyphs, ToUnicode maps them to text, W to the advance
 * the shaper chose (kerning included), so the text only needs explicit moves for mark offsets.
 */
export interface PdfFont {
  readonly ref: PDFRef;
  /** Units per em of the font, to turn fontkit's positions into text space. */
  readonly unitsPerEm: number;
  /** The code that draws `glyph`, advances by `advance` (font units) and reads back as `text`. */
  code(glyph: Glyph, text: string, advance: number): number;
  /** Writes the subset, widths and ToUnicode map; call once, after the last code(). */
  finish(): void;
}

// @types/fontkit says includeGlyph returns a boolean; fontkit returns the glyph's id in the subset.
interface Subset {
  includeGlyph(glyph: Glyph): number;
  encode(): Uint8Array;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const utf16Hex = (text: string) => [...text].map((c) => Buffer.from(c, 'utf16le').swap16().toString('hex')).join('');

const toUnicodeCMap = (texts: readonly string[]): string => {
  const entries = texts.map((text, cid) => `<${hex4(cid)}> <${utf16Hex(text)}>`).slice(1);
  const blocks: string[] = [];
  // A bfchar block may hold at most 100 entries.
  for (let i = 0; i < entries.length; i += 100) {
    const block = entries.slice(i, i + 100);
    blocks.push(`${block.length} beginbfchar\n${block.join('\n')}\nendbfchar`);
  }
  return `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <ffff>
endcodespacerange
${blocks.join('\n')}
endcmap
CMapName currentdict /CMap defineresource pop
end
end`;
};

export const createPdfFont = (doc: PDFDocument, font: Font): PdfFont => {
  const ref = doc.context.nextRef();
  const subset = font.createSubset() as unknown as Subset;
  const codes = new Map<string, number>();
  // Code 0 is .notdef, as in the font.
  const gids = [0];
  const widths = [0];
  const texts = [''];

  const code = (glyph: Glyph, text: string, advance: number) => {
    const key = `${glyph.id}:${advance}:${text}`;
    let cid = codes.get(key);
    if (cid === undefined) {
      cid = gids.length;
      codes.set(key, cid);
      gids.push(subset.includeGlyph(glyph));
      widths.push(advance);
      texts.push(text);
    }
    return cid;
  };

  const finish = () => {
    const { context } = doc;
    const scale = 1000 / font.unitsPerEm;
    const bytes = subset.encode();
    // The subset tag comes from the glyphs, not from chance, so a re-render is byte-identical.
    const digest = createHash('sha256').update(font.postscriptName).update(gids.join(',')).digest();
    const tag = [...digest.subarray(0, 6)].map((b) => String.fromCharCode(65 + (b % 26))).join('');
    const baseFont = PDFName.of(`${tag}+${font.postscriptName}`);
    const cidToGid = new Uint8Array(gids.length * 2);
    gids.forEach((gid, cid) => new DataView(cidToGid.buffer).setUint16(cid * 2, gid));
    const descriptor = context.obj({
      Type: 'FontDescriptor',
      FontName: baseFont,
      Flags: 4,
      FontBBox: [font.bbox.minX, font.bbox.minY, font.bbox.maxX, font.bbox.maxY].map((v) => Math.round(v * scale)),
      ItalicAngle: font.italicAngle,
      Ascent: Math.round(font.ascent * scale),
      Descent: Math.round(font.descent * scale),
      CapHeight: Math.round((font.capHeight || font.ascent) * scale),
      StemV: 80,
      FontFile2: context.register(context.flateStream(bytes, { Length1: bytes.length })),
    });
    const cidFont = context.obj({
      Type: 'Font',
      Subtype: 'CIDFontType2',
      BaseFont: baseFont,
      CIDSystemInfo: { Registry: PDFString.of('Adobe'), Ordering: PDFString.of('Identity'), Supplement: 0 },
      FontDescriptor: context.register(descriptor),
      W: [1, widths.slice(1).map((w) => Math.round(w * scale * 1000) / 1000)],
      CIDToGIDMap: context.register(context.flateStream(cidToGid)),
    });
    context.assign(
      ref,
      context.obj({
        Type: 'Font',
        Subtype: 'Type0',
        BaseFont: baseFont,
        Encoding: 'Identity-H',
        DescendantFonts: [context.register(cidFont)],
        ToUnicode: context.register(context.flateStream(toUnicodeCMap(texts))),
      }),
    );
  };

  return { ref, unitsPerEm: font.unitsPerEm, code, finish };
};

/** A code as the hex string a content stream shows. */
export const codeString = (codes: readonly number[]): PDFHexString => PDFHexString.of(codes.map(hex4).join(''));
