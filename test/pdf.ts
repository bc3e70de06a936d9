import { PDFParse } from 'pdf-parse';

/** The text of a PDF, parsed back the way a reader would see it. */
export const pdfText = async (bytes: Uint8Array): Promise<string> => {
  const parser = new PDFParse({ data: bytes });
  try {
    return (await parser.getText()).text;
  } finally {
    await parser.destroy();
  }
};
