/**
 * What the core hands a mail plugin: one message, already worded in its reader's language. The
 * plugin only speaks its transport (SMTP, an HTTP mail API); the core decides who is written to,
 * words it, and retries through its jobs.
 */
export interface Mail {
  to: string;
  subject: string;
  /** Plain text: what every mail client shows the same. */
  text: string;
  /** Extra headers, such as `List-Unsubscribe` on notices a buyer subscribed to. */
  headers?: Record<string, string>;
}

export interface Mailer {
  /** Resolves once the server took the message; throws to be retried, or a PermanentJobError when no retry can help. */
  send(mail: Mail, signal: AbortSignal): Promise<void>;
}
