import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import QRCode from 'qrcode';

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

// The standard fonts encode WinAnsi only; anything else would make pdf-lib throw mid-render.
const printable = (text: string) => text.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');

export const renderTicket = async (input: RenderInput): Promise<Uint8Array> => {
  const doc = await PDFDocument.create();
  doc.setTitle(`Ticket ${input.n} of ${input.total} - ${printable(input.event)}`);
  doc.setCreator('Handoff');
  // A fixed date keeps a re-render byte-identical to the first one.
  doc.setCreationDate(new Date(0));
  doc.setModificationDate(new Date(0));
  const page = doc.addPage([420, 595]);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const ink = rgb(0.1, 0.1, 0.15);
  const event = printable(input.event);
  // Shrink a long event name to one line (a scanner-side search matches it whole); wrap only below 10 pt.
  // 0.97: at exactly the box width, rounding makes pdf-lib wrap the line anyway.
  const eventSize = Math.max(10, Math.min(22, (0.97 * 356) / Math.max(1, bold.widthOfTextAtSize(event, 1))));
  page.drawText(event, { x: 32, y: 540, size: eventSize, font: bold, color: ink, maxWidth: 356, lineHeight: eventSize * 1.2 });
  page.drawText(`Attendee: ${printable(input.attendee)}`, { x: 32, y: 500, size: 14, font: regular, color: ink });
  page.drawText(`Order: ${input.orderId}`, { x: 32, y: 478, size: 11, font: regular, color: ink });
  page.drawText(`Ticket ${input.n} of ${input.total}`, { x: 32, y: 460, size: 11, font: regular, color: ink });
  const png = await QRCode.toBuffer(input.code, { errorCorrectionLevel: 'M', margin: 1, width: 256 });
  const image = await doc.embedPng(png);
  page.drawImage(image, { x: 82, y: 150, width: 256, height: 256 });
  page.drawText(input.code, { x: 32, y: 120, size: 6, font: regular, color: ink, maxWidth: 356 });
  return doc.save();
};

export default renderTicket;
