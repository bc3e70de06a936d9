import { PDFDocument } from 'pdf-lib';
import QRCode from 'qrcode';
import { createTextPainter } from './draw-text.ts';
import { fitText, type FitOptions } from './fit-text.ts';
import { isolate } from './text-runs.ts';

/**
 * Renders one ticket PDF. It runs as the default export of a process-pool module (a child
 * process), so the runner's timeout can kill a render that never returns.
 */
export interface RenderInput {
  event: string;
  attendee: string;
  orderId: string;
  n: number;
  total: number;
  /** The signed ticket id the QR code encodes. */
  code: string;
}

const INK = [0.1, 0.1, 0.15] as const;
const LEFT = 32;
const WIDTH = 356;

export const renderTicket = async (input: RenderInput): Promise<Uint8Array> => {
  const doc = await PDFDocument.create();
  doc.setTitle(`Ticket ${input.n} of ${input.total} - ${input.event}`);
  doc.setCreator('Handoff');
  // A fixed date keeps a re-render byte-identical to the first one.
  doc.setCreationDate(new Date(0));
  doc.setModificationDate(new Date(0));
  const page = doc.addPage([420, 595]);
  const painter = createTextPainter(doc, page);
  let y = 540;
  /** Draws a block of lines from the baseline `y`, then moves `y` down by `gap` below its last line. */
  const block = (text: string, fit: Omit<FitOptions, 'maxWidth'>, gap: number) => {
    const { size, lines } = fitText(painter, text, { ...fit, maxWidth: WIDTH });
    lines.forEach((line, i) => painter.draw(line, { x: LEFT, y: y - i * size * 1.2, size, weight: fit.weight, color: INK }));
    y -= (lines.length - 1) * size * 1.2 + gap;
  };
  // The event name shrinks to stay on one line (a scanner-side search matches it whole).
  block(input.event, { weight: 'bold', maxSize: 22, minSize: 10 }, 40);
  // The name is isolated so that a right-to-left name reads right to left after the label.
  block(`Attendee: ${isolate(input.attendee)}`, { weight: 'regular', maxSize: 14, minSize: 9 }, 22);
  block(`Order: ${input.orderId}`, { weight: 'regular', maxSize: 11, minSize: 8 }, 18);
  block(`Ticket ${input.n} of ${input.total}`, { weight: 'regular', maxSize: 11, minSize: 11 }, 0);
  const png = await QRCode.toBuffer(input.code, { errorCorrectionLevel: 'M', margin: 1, width: 256 });
  const image = await doc.embedPng(png);
  page.drawImage(image, { x: 82, y: 150, width: 256, height: 256 });
  y = 120;
  block(input.code, { weight: 'regular', maxSize: 6, minSize: 6 }, 0);
  painter.finish();
  return doc.save();
};

/**
 * Run once when a render process starts (the process pool's `warm`): the Latin faces, pdf-lib and
 * the QR encoder are loaded before the first ticket, whose timeout then pays only for its own work.
 */
export const warm = async (): Promise<void> => {
  await renderTicket({ event: 'Warm-up', attendee: 'Warm-up', orderId: 'ord_warmup', n: 1, total: 1, code: 'HT1.warmup' });
};

export default renderTicket;
