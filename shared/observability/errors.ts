/** How an error reads in a log line, a span or a dead letter: its name (unless plain) and message. */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
