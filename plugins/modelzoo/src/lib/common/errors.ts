/** An error meant for the user: its message is the whole story, so executors print it without a stack. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof UserError) return err.message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
