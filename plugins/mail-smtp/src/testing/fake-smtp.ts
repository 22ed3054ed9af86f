/**
 * A local SMTP server for tests, on 127.0.0.1 (the `smtp-server` package, which speaks the
 * protocol as a real server does; messages parsed with `mailparser`). It checks the login when
 * given one (535 for a wrong one), and `failNext` makes the next messages fail as a busy server
 * does (451 after DATA, a temporary failure) or refuses their recipient (550).
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  /** Header names in lower case, values as sent (decoded). */
  headers: Record<string, string>;
}

export interface FakeSmtp {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly pass: string;
  /** Messages it accepted, in order. */
  readonly received: ReceivedMail[];
  /** Transactions that reached DATA, accepted or not. */
  attempts: number;
  /** The next `n` messages get `code`: 451 (try again later) or 550 (no such mailbox). */
  failNext(n: number, code?: 451 | 550): void;
  close(): Promise<void>;
}

export async function startFakeSmtp(opts: { auth?: boolean } = {}): Promise<FakeSmtp> {
  const user = 'shop@example.test';
  const pass = 'smtp-pass-0123';
  const received: ReceivedMail[] = [];
  let failing = 0;
  let failCode: 451 | 550 = 451;
  const fake = { attempts: 0 } as { attempts: number };
  const server = new SMTPServer({
    secure: false,
    // Plain SMTP on the loopback: no certificate to make, and nodemailer then skips STARTTLS.
    disabledCommands: opts.auth === false ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    authOptional: opts.auth === false,
    allowInsecureAuth: true,
    logger: false,
    // Pooled clients keep connections open: closing drops them instead of waiting 30 s.
    closeTimeout: 50,
    onAuth(auth, _session, done) {
      if (auth.username === user && auth.password === pass) return done(null, { user });
      return done(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, done) {
      if (failing > 0 && failCode === 550) {
        failing--;
        fake.attempts++;
        return done(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
      }
      done();
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        fake.attempts++;
        if (failing > 0) {
          failing--;
          return done(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        }
        simpleParser(Buffer.concat(chunks))
          .then((parsed) => {
            const headers: Record<string, string> = {};
            for (const line of parsed.headerLines) headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              headers,
            });
            done();
          })
          .catch((err: Error) => done(err));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return Object.assign(fake, {
    host: '127.0.0.1',
    port,
    user,
    pass,
    received,
    failNext(n: number, code: 451 | 550 = 451) {
      failing = n;
      failCode = code;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
