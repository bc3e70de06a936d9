import fc from 'fast-check';
import { PDFDict, PDFDocument, PDFName } from 'pdf-lib';
import { expect, test } from 'vitest';
import { pdfText } from '#test/pdf';
import { renderTicket } from '../src/render-ticket.ts';
import { shapeRun } from '../src/shape-run.ts';
import { textRuns, visualOrder } from '../src/text-runs.ts';
import { loadFont, type Face, type Weight } from '../src/ticket-fonts.ts';

// Each name stresses its script: diacritics, a Japanese-only ideograph (𠮷), a name whose Arabic
// letters share glyphs once their dots are split off (ه/ة), Devanagari reordering (the i-matra
// before its consonant, reph after it) and conjuncts.
const SCRIPTS = [
  { script: 'Latin with diacritics', attendee: 'Zoë Ørsted-Łukasiewicz', event: 'Café Ünïcode Forum' },
  { script: 'Greek', attendee: 'Αλέξανδρος Παπαδόπουλος', event: 'Ελληνικό Συνέδριο' },
  { script: 'Cyrillic', attendee: 'Ольга Петрова', event: 'Конференция разработчиков' },
  { script: 'Chinese', attendee: '李小龙', event: '北京开发者大会' },
  { script: 'Japanese', attendee: '𠮷野 はなこ', event: '東京開発者会議' },
  { script: 'Korean', attendee: '김민준', event: '한국 개발자 컨퍼런스' },
  { script: 'Vietnamese', attendee: 'Nguyễn Thị Minh Khai', event: 'Hội nghị Lập trình viên' },
  { script: 'Arabic', attendee: 'فاطمة عبد الله', event: 'مؤتمر المطورين' },
  { script: 'Hebrew', attendee: 'דוד בן־גוריון', event: 'כנס מפתחים' },
  { script: 'Devanagari', attendee: 'प्रिया शर्मा', event: 'क्षत्रिय हिन्दी सम्मेलन' },
];
// Every attendee with an event in a script three places further on, so each pairing mixes scripts.
const CASES = SCRIPTS.map((s, i) => {
  const other = SCRIPTS[(i + 3) % SCRIPTS.length] ?? s;
  return { script: s.script, attendee: s.attendee, eventScript: other.script, event: other.event };
});

const render = (event: string, attendee: string) => renderTicket({ event, attendee, orderId: 'ord_scripts', n: 1, total: 1, code: 'HT1.ord_scripts.1.sig' });

/** The fonts a PDF embeds, without their subset tags. */
const embeddedFonts = async (pdf: Uint8Array): Promise<string[]> => {
  const doc = await PDFDocument.load(pdf);
  return doc.context
    .enumerateIndirectObjects()
    .map(([, object]) => object)
    .filter((object): object is PDFDict => object instanceof PDFDict && object.get(PDFName.of('Subtype')) === PDFName.of('Type0'))
    .map((font) => String(font.get(PDFName.of('BaseFont'))).replace(/^\/[A-Z]{6}\+/, ''))
    .sort();
};

test.each(CASES)('a ticket for an attendee in $script reads back the name, and the event named in $eventScript, in logical order', async ({ attendee, event }) => {
  const lines = (await pdfText(await render(event, attendee))).split('\n');
  expect(lines).toContain(event);
  expect(lines).toContain(`Attendee: ${attendee}`);
});

test('every character of every name is drawn with a glyph of the font chosen for it, never .notdef', () => {
  for (const { attendee, event } of SCRIPTS) {
    for (const [text, weight] of [[attendee, 'regular'], [event, 'bold']] as Array<[string, Weight]>) {
      const runs = textRuns(text, weight);
      expect(runs.map((run) => run.text).join('')).toHaveLength(text.length);
      for (const run of runs) {
        const font = loadFont(run.face, weight);
        for (const char of run.text) expect(font.hasGlyphForCodePoint(char.codePointAt(0) ?? 0), `${char} in ${run.face}`).toBe(true);
        expect(shapeRun(font, run.text, run.level % 2 === 1).glyphs.every((g) => g.glyph.id !== 0)).toBe(true);
      }
    }
  }
});

// Letters, vowel signs, marks and viramas in any order, broken clusters included.
const ALPHABETS: Array<{ face: Face; rtl: boolean; chars: string }> = [
  { face: 'devanagari', rtl: false, chars: 'कखगचजटडतदनपबमयरलवशषसहअआइउएओािीुूृेैोौंँः़् ' },
  { face: 'arabic', rtl: true, chars: 'ابتثجحخدذرزسشصضطظعغفقكلمنهويةءأإؤئىﻻَُِّْ ' },
  { face: 'hebrew', rtl: true, chars: 'אבגדהוזחטיכלמנסעפצקרשתךםןףץ־ְִֵֶַָֹּׁׂ ' },
  { face: 'latin', rtl: false, chars: 'aeinouyAEIÑØŁđƯơ\u0300\u0301\u0303\u0308\u0323ıʼ-–. ' },
];

test('shaping keeps the text: glyph texts read in logical order give back the run, and no advancing glyph carries a mark', () => {
  for (const { face, rtl, chars } of ALPHABETS) {
    const font = loadFont(face, 'regular');
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: 12 }), (picked) => {
        const text = picked.join('');
        const { glyphs } = shapeRun(font, text, rtl);
        const logical = rtl ? [...glyphs].reverse().map((g) => [...g.text].reverse().join('')) : glyphs.map((g) => g.text);
        expect(logical.join('')).toBe(text);
        expect(glyphs.filter((g) => g.xAdvance !== 0 && /\p{Mn}/u.test(g.text))).toEqual([]);
      }),
      { numRuns: 150 },
    );
  }
});

test('emoji are dropped from a name, and nothing else is', () => {
  expect(textRuns('Zoë 🎉 李 🇫🇷 Ольга 👩🏽‍💻 ©', 'regular').map((run) => run.text).join('')).toBe('Zoë  李  Ольга  ©');
});

test('a Latin-only ticket embeds only Noto Sans, and another script adds only its own font', async () => {
  expect(await embeddedFonts(await render('JSConf Ünïcode', 'Ada Lovelace'))).toEqual(['NotoSans-Bold', 'NotoSans-Regular']);
  expect(await embeddedFonts(await render('JSConf', 'محمد عبد الله'))).toEqual(['NotoSans-Bold', 'NotoSans-Regular', 'NotoSansArabic-Regular']);
  expect(await embeddedFonts(await render('東京開発者会議', 'Ada'))).toEqual(['NotoSans-Regular', 'NotoSansSC-Bold']);
  expect(await embeddedFonts(await render('JSConf', 'やまだ 李'))).toEqual(['NotoSans-Bold', 'NotoSans-Regular', 'NotoSansJP-Regular']);
});

test('runs are placed by their bidi levels, right-to-left ones reversed (UAX #9 rule L2)', () => {
  expect(visualOrder([0, 0])).toEqual([0, 1]);
  expect(visualOrder([1, 1, 1])).toEqual([2, 1, 0]);
  // "Attendee: " + an Arabic name with European digits: the digits stay left to right inside it.
  expect(visualOrder([0, 1, 2, 1])).toEqual([0, 3, 2, 1]);
  expect(textRuns('Ada محمد', 'regular').map((run) => [run.text, run.face, run.level])).toEqual([
    ['Ada ', 'latin', 0],
    ['محمد', 'arabic', 1],
  ]);
});

test('a re-render of a ticket in many scripts is byte-identical', async () => {
  const event = 'Конференция 東京 مؤتمر';
  const attendee = 'Ada 李小龙 דוד प्रिया';
  expect(Buffer.from(await render(event, attendee)).equals(Buffer.from(await render(event, attendee)))).toBe(true);
});

test('an event name too long for one line at 10 pt wraps between words and keeps every word', async () => {
  const words = Array.from({ length: 24 }, (_, i) => `Word${i}`);
  const lines = (await pdfText(await render(words.join(' '), 'Ada'))).split('\n').filter((line) => line.trim() !== '');
  const eventLines = lines.slice(0, lines.findIndex((line) => line.startsWith('Attendee:')));
  expect(eventLines.length).toBeGreaterThan(1);
  expect(eventLines.join(' ').split(/\s+/)).toEqual(words);
});
